// The Acme demo app: a tiny single-page app (pushState navigation), so the Hark client's SPA
// handling can be seen: each navigation is a new page for Hark's targeting.
(function () {
  "use strict";
  var pages = {
    "/": ["Dashboard", "Welcome back. You have 3 active projects and 2 tasks due today."],
    "/projects": ["Projects", "Website redesign · Mobile app · Quarterly report"],
    "/settings": ["Settings", "Your profile, notifications and billing."],
  };
  function render() {
    var page = pages[location.pathname] || ["Not found", "There is nothing here."];
    var view = document.getElementById("view");
    view.textContent = "";
    var h1 = document.createElement("h1");
    h1.textContent = page[0];
    var p = document.createElement("p");
    p.textContent = page[1];
    view.appendChild(h1);
    view.appendChild(p);
    if (location.pathname === "/projects") {
      var button = document.createElement("button");
      button.id = "upgrade";
      button.className = "button";
      button.textContent = "Upgrade to Pro";
      button.addEventListener("click", function () {
        hark("trackEvent", "Upgrade Clicked", { from: "projects" });
      });
      view.appendChild(button);
    }
    document.title = page[0] + " · Acme";
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[href^='/']");
    if (!link) return;
    event.preventDefault();
    history.pushState({}, "", link.getAttribute("href"));
    render();
  });
  window.addEventListener("popstate", render);
  render();
})();
