export DATABASE_URL=postgres://postgres@127.0.0.1:5432/hark_partitions HARK_TEST_REDIS_DB=5 DEBUG=true
