# Integration tests: the whole engine through the public API, real LMDB and ZeroMQ.
# (included from tests/CMakeLists.txt)
weft_test(engine_test SOURCES integration/engine_test.c LIBS weft_static LABELS integration TIMEOUT 300)
target_include_directories(engine_test PRIVATE ${PROJECT_SOURCE_DIR}/proto ${PROJECT_SOURCE_DIR}/engine)
weft_test(rules_test SOURCES integration/rules_test.c LIBS weft_static LABELS integration TIMEOUT 300)
weft_test(board_test SOURCES integration/board_test.c LIBS weft_static wf_proto LABELS integration TIMEOUT 300)
target_include_directories(board_test PRIVATE ${PROJECT_SOURCE_DIR}/proto)

# Helper programs run as separate processes by process_test (real processes, real signals).
add_executable(weft_test_worker integration/weft_test_worker.c)
target_link_libraries(weft_test_worker PRIVATE weft_static)
add_executable(weft_test_crash_child integration/crash_child.c)
target_link_libraries(weft_test_crash_child PRIVATE weft_static)
weft_test(process_test SOURCES integration/process_test.c LIBS weft_static LABELS integration TIMEOUT 600)
add_dependencies(process_test weft_test_worker weft_test_crash_child)

# `weft worker` as a process serving an engine in the test (needs the CLI; WEFT_CLI names it).
if(WEFT_CLI)
  weft_test(worker_proc_test SOURCES integration/worker_proc_test.c LIBS weft_static LABELS integration
            TIMEOUT 300)
  target_include_directories(worker_proc_test PRIVATE ${PROJECT_SOURCE_DIR}/workers ${PROJECT_SOURCE_DIR}/proto)
  add_dependencies(worker_proc_test weft_cli)
  set_property(TEST weft.worker_proc_test APPEND PROPERTY ENVIRONMENT "WEFT_CLI=$<TARGET_FILE:weft_cli>")
endif()
# No step grows faster than the request: 10x the jobs in < 30x the time (issue 5).
weft_test(scale_test SOURCES integration/scale_test.c LIBS weft_static LABELS integration TIMEOUT 300)
