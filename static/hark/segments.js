// Segments: the rule builder (AND/OR groups of conditions) and small page behaviours.
// No inline scripts (CSP): data arrives through json_script (#segment-builder-data); the rules
// are kept in the form's textarea (name="rules"), which is also the no-JavaScript fallback.
// After every change the builder fires "rulesChanged" on <body>: the #preview block
// (hx-trigger="rulesChanged from:body") posts the form and shows the live count and sample.
(function () {
  "use strict";

  var dataElement = document.getElementById("segment-builder-data");
  var root = document.getElementById("rule-builder");
  var textarea = document.getElementById("id_rules");
  if (!dataElement || !root || !textarea) return;
  var data = JSON.parse(dataElement.textContent);
  var MAX_DEPTH = 5;

  var TYPE_LABELS = {
    trait: "User trait", profile: "User property", event: "Event", survey: "Survey",
    answer: "Survey answer", segment: "Segment"
  };
  var PROFILE_FIELDS = {
    first_seen_at: ["First seen", "date"], last_seen_at: ["Last seen", "date"],
    identified: ["Identified (has user id or email)", "flag"], has_email: ["Has email", "flag"]
  };
  var SET_OPS = ["is_set", "is_not_set"];

  function isGroup(node) { return node && (node.op !== undefined || node.conditions !== undefined); }

  function normalize(node) {
    if (!node || typeof node !== "object" || Array.isArray(node)) return { op: "and", conditions: [] };
    if (!Array.isArray(node.conditions)) node.conditions = [];
    if (node.op !== "or") node.op = "and";
    node.conditions.forEach(function (child) { if (isGroup(child)) normalize(child); });
    return node;
  }

  var rules = normalize(data.rules);

  // --- small DOM helpers ---------------------------------------------------------------------
  function h(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === undefined || value === null || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key.indexOf("on") === 0) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  // The rule field each labelled control edits, so an error's path finds its control.
  var FIELDS = {
    "Trait": "key", "Trait key": "key", "Type": "data_type", "Property": "field", "Event": "event",
    "Event name": "event", "Operator": "operator", "Has or has not": "operator",
    "In or not in": "operator", "Times": "count", "Within days (empty: ever)": "within_days",
    "Date operator": "date_operator", "Action": "action", "Survey": "survey",
    "Question": "question", "Question key": "question", "Segment": "segment",
    "Condition type": "type", "Match all or any": "op"
  };

  function select(label, options, value, onChange) {
    // options: [[value, label], ...]
    var known = options.some(function (o) { return String(o[0]) === String(value); });
    if (!known && value !== undefined && value !== null && value !== "") options = options.concat([[value, value + " (unknown)"]]);
    var node = h("select", { "aria-label": label, "data-field": FIELDS[label], onchange: function () { onChange(node.value); } },
      options.map(function (o) {
        return h("option", { value: o[0], text: o[1], selected: String(o[0]) === String(value) });
      }));
    return node;
  }

  function input(label, type, value, onInput, attrs) {
    var node = h("input", Object.assign({ type: type, "aria-label": label, "data-field": FIELDS[label], value: value === undefined || value === null ? "" : value }, attrs || {}));
    node.addEventListener("input", function () { onInput(node.value); });
    return node;
  }

  function pairs(object) { return Object.keys(object).map(function (k) { return [k, object[k]]; }); }

  // The rule field a control edits ("value", "operator", ...): errors name it by path.
  function field(node, name) { node.setAttribute("data-field", name); return node; }

  function changed(rerender) {
    if (rerender) render();  // first: rendering fills defaults (first trait, operator) in
    textarea.value = JSON.stringify(rules);
    document.body.dispatchEvent(new CustomEvent("rulesChanged"));
  }

  function toNumber(text) { var n = Number(text); return text === "" || isNaN(n) ? text : n; }
  function toDays(text) { var n = parseInt(text, 10); return isNaN(n) ? null : n; }

  // --- value inputs by type and operator -------------------------------------------------------
  function valueInputs(condition, dataType, operator, key) {
    key = key || "value";
    if (!operator || SET_OPS.indexOf(operator) >= 0 || dataType === "boolean") return [];
    if (operator === "within_last_days" || operator === "more_than_days_ago") {
      return [field(input("Days", "number", condition[key], function (v) { condition[key] = toDays(v); changed(false); }, { min: 0, step: 1, class: "narrow" }), key), h("span", { class: "muted", text: "days" })];
    }
    var inputType = dataType === "number" ? "number" : dataType === "date" ? "date" : "text";
    var convert = dataType === "number" ? toNumber : function (v) { return v; };
    if (operator === "between") {
      var both = Array.isArray(condition[key]) ? condition[key] : ["", ""];
      condition[key] = both;
      return [
        field(input("From", inputType, both[0], function (v) { both[0] = convert(v); changed(false); }, { step: "any" }), key),
        h("span", { class: "muted", text: "and" }),
        field(input("To", inputType, both[1], function (v) { both[1] = convert(v); changed(false); }, { step: "any" }), key)
      ];
    }
    if (operator === "in") {
      var list = Array.isArray(condition[key]) ? condition[key].join(", ") : "";
      return [field(input("Values, comma-separated", "text", list, function (v) {
        condition[key] = v.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
        changed(false);
      }, { placeholder: "a, b, c" }), key)];
    }
    return [field(input("Value", inputType, condition[key], function (v) { condition[key] = convert(v); changed(false); }, { step: "any" }), key)];
  }

  function typedOperator(condition, dataType) {
    var operators = data.operators[dataType] || data.operators.string;
    if (!(condition.operator in operators)) {
      condition.operator = Object.keys(operators)[0];
      delete condition.value;
    }
    return field(select("Operator", pairs(operators), condition.operator, function (v) {
      condition.operator = v; delete condition.value; changed(true);
    }), "operator");
  }

  function typeOf(list, key, fallback) {
    for (var i = 0; i < list.length; i++) if (list[i].key === key) return list[i].type;
    return fallback || "string";
  }

  var surveyOptions = [["", "any survey"]].concat(data.surveys.map(function (s) { return [s.uuid, s.name]; }));

  // --- a condition row ---------------------------------------------------------------------------
  function fieldsFor(condition) {
    var parts = [];
    switch (condition.type) {
      case "trait": {
        if (!condition.key && data.traits.length) condition.key = data.traits[0].key;
        var traitType = typeOf(data.traits, condition.key, condition.data_type);
        var known = data.traits.some(function (t) { return t.key === condition.key; });
        parts.push(data.traits.length ? select("Trait", data.traits.map(function (t) { return [t.key, t.label + " (" + t.type + ")"]; }), condition.key, function (v) {
          condition.key = v; delete condition.value; delete condition.data_type; changed(true);
        }) : input("Trait key", "text", condition.key, function (v) { condition.key = v; changed(false); }, { placeholder: "trait key" }));
        if (!known) {
          parts.push(select("Type", [["string", "text"], ["number", "number"], ["boolean", "boolean"], ["date", "date"]], condition.data_type || "string", function (v) {
            condition.data_type = v; delete condition.value; changed(true);
          }));
        } else {
          delete condition.data_type;
        }
        parts.push(typedOperator(condition, traitType));
        parts = parts.concat(valueInputs(condition, traitType, condition.operator));
        break;
      }
      case "profile": {
        if (!(condition.field in PROFILE_FIELDS)) condition.field = "last_seen_at";
        parts.push(select("Property", pairs(PROFILE_FIELDS).map(function (p) { return [p[0], p[1][0]]; }), condition.field, function (v) {
          condition.field = v; delete condition.operator; delete condition.value; changed(true);
        }));
        if (PROFILE_FIELDS[condition.field][1] === "flag") {
          if (["is_true", "is_false"].indexOf(condition.operator) < 0) condition.operator = "is_true";
          parts.push(select("Operator", [["is_true", "yes"], ["is_false", "no"]], condition.operator, function (v) { condition.operator = v; changed(false); }));
        } else {
          var dateOps = pairs(data.operators.date).filter(function (p) { return SET_OPS.indexOf(p[0]) < 0; });
          if (!dateOps.some(function (p) { return p[0] === condition.operator; })) condition.operator = "within_last_days";
          parts.push(select("Operator", dateOps, condition.operator, function (v) { condition.operator = v; delete condition.value; changed(true); }));
          parts = parts.concat(valueInputs(condition, "date", condition.operator));
        }
        break;
      }
      case "event": {
        if (!condition.event && data.events.length) condition.event = data.events[0];
        if (!(condition.operator in data.event_operators)) condition.operator = "at_least";
        parts.push(data.events.length ? select("Event", data.events.map(function (e) { return [e, e]; }), condition.event, function (v) { condition.event = v; changed(false); })
          : input("Event name", "text", condition.event, function (v) { condition.event = v; changed(false); }, { placeholder: "event name" }));
        parts.push(select("Operator", pairs(data.event_operators), condition.operator, function (v) {
          condition.operator = v;
          ["count", "within_days", "date_operator", "value"].forEach(function (k) { delete condition[k]; });
          changed(true);
        }));
        if (["at_least", "at_most", "exactly"].indexOf(condition.operator) >= 0) {
          if (condition.count === undefined) condition.count = 1;
          parts.push(input("Times", "number", condition.count, function (v) { condition.count = toDays(v); changed(false); }, { min: 0, step: 1, class: "narrow" }));
          parts.push(h("span", { class: "muted", text: "times" }));
        }
        if (["at_least", "at_most", "exactly", "not_performed"].indexOf(condition.operator) >= 0) {
          if (condition.within_days === undefined) condition.within_days = null;
          parts.push(h("span", { class: "muted", text: "in the last" }));
          parts.push(input("Within days (empty: ever)", "number", condition.within_days, function (v) { condition.within_days = toDays(v); changed(false); }, { min: 0, step: 1, placeholder: "ever", class: "narrow" }));
          parts.push(h("span", { class: "muted", text: "days" }));
        } else {
          var eventDateOps = pairs(data.operators.date).filter(function (p) { return SET_OPS.indexOf(p[0]) < 0; });
          if (!eventDateOps.some(function (p) { return p[0] === condition.date_operator; })) condition.date_operator = "within_last_days";
          parts.push(select("Date operator", eventDateOps, condition.date_operator, function (v) { condition.date_operator = v; delete condition.value; changed(true); }));
          parts = parts.concat(valueInputs(condition, "date", condition.date_operator));
        }
        break;
      }
      case "survey": {
        if (["has", "has_not"].indexOf(condition.operator) < 0) condition.operator = "has";
        if (!(condition.action in data.survey_actions)) condition.action = "completed";
        if (condition.within_days === undefined) condition.within_days = null;
        if (condition.survey === undefined) condition.survey = null;
        parts.push(select("Has or has not", [["has", "has"], ["has_not", "has not"]], condition.operator, function (v) { condition.operator = v; changed(false); }));
        parts.push(select("Action", pairs(data.survey_actions), condition.action, function (v) { condition.action = v; changed(false); }));
        parts.push(select("Survey", surveyOptions, condition.survey || "", function (v) { condition.survey = v || null; changed(false); }));
        parts.push(h("span", { class: "muted", text: "in the last" }));
        parts.push(input("Within days (empty: ever)", "number", condition.within_days, function (v) { condition.within_days = toDays(v); changed(false); }, { min: 0, step: 1, placeholder: "ever", class: "narrow" }));
        parts.push(h("span", { class: "muted", text: "days" }));
        break;
      }
      case "answer": {
        if (!condition.question && data.answers.length) condition.question = data.answers[0].key;
        if (condition.survey === undefined) condition.survey = null;
        var answerType = typeOf(data.answers, condition.question, condition.data_type);
        parts.push(select("Survey", surveyOptions, condition.survey || "", function (v) { condition.survey = v || null; changed(false); }));
        parts.push(data.answers.length ? select("Question", data.answers.map(function (t) { return [t.key, t.label + " (" + t.type + ")"]; }), condition.question, function (v) {
          condition.question = v; delete condition.value; changed(true);
        }) : input("Question key", "text", condition.question, function (v) { condition.question = v; changed(false); }, { placeholder: "question key" }));
        parts.push(typedOperator(condition, answerType));
        parts = parts.concat(valueInputs(condition, answerType, condition.operator));
        break;
      }
      case "segment": {
        if (["in", "not_in"].indexOf(condition.operator) < 0) condition.operator = "in";
        if (!condition.segment && data.segments.length) condition.segment = data.segments[0].uuid;
        parts.push(select("In or not in", [["in", "is in"], ["not_in", "is not in"]], condition.operator, function (v) { condition.operator = v; changed(false); }));
        parts.push(select("Segment", data.segments.map(function (s) { return [s.uuid, s.name]; }), condition.segment, function (v) { condition.segment = v; changed(false); }));
        break;
      }
    }
    return parts;
  }

  function renderCondition(condition, parent, index, path) {
    var typeSelect = select("Condition type", pairs(TYPE_LABELS), condition.type, function (v) {
      parent.conditions[index] = { type: v };
      changed(true);
    });
    return h("div", { class: "rule-condition", "data-path": path }, [
      typeSelect
    ].concat(fieldsFor(condition)).concat([
      h("button", { type: "button", class: "btn small rule-remove", "aria-label": "Remove condition", text: "✕", onclick: function () {
        parent.conditions.splice(index, 1); changed(true);
      } })
    ]));
  }

  function renderGroup(group, parent, index, depth, path) {
    var children = group.conditions.map(function (child, i) {
      var childPath = (path ? path + "." : "") + "conditions[" + i + "]";
      var node = isGroup(child) ? renderGroup(child, group, i, depth + 1, childPath) : renderCondition(child, group, i, childPath);
      if (i > 0) return h("div", { class: "rule-item" }, [h("span", { class: "rule-joiner", text: group.op === "or" ? "OR" : "AND" }), node]);
      return h("div", { class: "rule-item" }, [node]);
    });
    var header = h("div", { class: "rule-group-header" }, [
      h("span", { text: "Match" }),
      select("Match all or any", [["and", "all"], ["or", "any"]], group.op, function (v) { group.op = v; changed(true); }),
      h("span", { text: "of these conditions" }),
      parent ? h("button", { type: "button", class: "btn small rule-remove", text: "Remove group", onclick: function () {
        parent.conditions.splice(index, 1); changed(true);
      } }) : null
    ]);
    var actions = h("div", { class: "rule-actions" }, [
      h("button", { type: "button", class: "btn small", text: "+ Condition", onclick: function () {
        group.conditions.push({ type: data.traits.length ? "trait" : "profile" }); changed(true);
      } }),
      depth < MAX_DEPTH - 1 ? h("button", { type: "button", class: "btn small", text: "+ Group", onclick: function () {
        group.conditions.push({ op: group.op === "and" ? "or" : "and", conditions: [{ type: data.traits.length ? "trait" : "profile" }] }); changed(true);
      } }) : null
    ]);
    var body = children.length ? children : [h("p", { class: "muted small", text: parent ? "An empty group matches everyone." : "No conditions: every user matches." })];
    return h("div", { class: "rule-group" + (parent ? " nested" : ""), "data-path": path }, [header].concat(body).concat([actions]));
  }

  function render() {
    root.replaceChildren(renderGroup(rules, null, 0, 0, ""));
    markErrors();
  }

  // Errors from the preview name a path ("conditions[1].value"): outline that condition.
  // Each error is also written next to its condition, in words, and the control at fault is
  // marked invalid and described by it (aria-describedby).
  function markErrors() {
    root.querySelectorAll(".rule-error").forEach(function (n) { n.classList.remove("rule-error"); });
    root.querySelectorAll(".rule-error-message").forEach(function (n) { n.remove(); });
    root.querySelectorAll("[aria-invalid]").forEach(function (n) { n.removeAttribute("aria-invalid"); n.removeAttribute("aria-describedby"); });
    var seen = {};
    var items = document.querySelectorAll("#preview [data-path]");
    if (!items.length) items = document.querySelectorAll("#form-errors [data-path]");
    items.forEach(function (item, index) {
      var path = item.getAttribute("data-path");
      if (seen[path]) return;
      seen[path] = true;
      var best = null;
      root.querySelectorAll("[data-path]").forEach(function (node) {
        var p = node.getAttribute("data-path");
        if (p && (path === p || path.indexOf(p + ".") === 0) && (!best || p.length > best.getAttribute("data-path").length)) best = node;
      });
      if (!best) best = root.querySelector(".rule-group");
      if (!best) return;
      best.classList.add("rule-error");
      var bestPath = best.getAttribute("data-path") || "";
      var rest = path.slice(bestPath.length).replace(/^\./, "");
      var id = "rule-error-" + index;
      var message = h("p", { class: "rule-error-message", id: id, text: item.getAttribute("data-message") || item.textContent });
      var control = rest ? best.querySelector(":scope > [data-field='" + rest + "']") : null;
      if (control) {
        best.querySelectorAll(":scope > [data-field='" + rest + "']").forEach(function (c) {
          c.setAttribute("aria-invalid", "true");
          c.setAttribute("aria-describedby", id);
        });
      }
      // Inside a condition row the message ends the row; for a group, it follows its header.
      if (best.classList.contains("rule-condition")) best.appendChild(message);
      else best.insertBefore(message, best.children[1] || null);
    });
  }

  textarea.addEventListener("input", function () {
    try {
      rules = normalize(JSON.parse(textarea.value));
      render();
      document.body.dispatchEvent(new CustomEvent("rulesChanged"));
    } catch (e) { /* keep editing */ }
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.target && event.detail.target.id === "preview") markErrors();
  });

  // Manual segments have no rules: hide the builder and the preview.
  function applyKind() {
    var checked = document.querySelector("input[data-kind]:checked");
    var manual = checked && checked.value === "manual";
    document.querySelectorAll("[data-dynamic-only]").forEach(function (node) { node.hidden = manual; });
  }
  document.querySelectorAll("input[data-kind]").forEach(function (radio) { radio.addEventListener("change", applyKind); });
  applyKind();

  textarea.value = JSON.stringify(rules);
  render();
})();
