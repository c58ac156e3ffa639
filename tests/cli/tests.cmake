# Tests of the command line: the workflow loader (golden diagnostics) and the weft verbs.
weft_test(workflow_test SOURCES cli/workflow_test.c LIBS wf_cli LABELS unit)
set_tests_properties(weft.workflow_test PROPERTIES ENVIRONMENT
                     "WEFT_CLI_DATA=${CMAKE_CURRENT_SOURCE_DIR}/cli/data")
add_test(NAME weft.cli_run COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/run_test.sh
         $<TARGET_FILE:weft_cli> ${PROJECT_SOURCE_DIR}/examples/workflows)
set_tests_properties(weft.cli_run PROPERTIES TIMEOUT 600 LABELS integration)
add_test(NAME weft.cli_inspect COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/inspect_test.sh
         $<TARGET_FILE:weft_cli>)
set_tests_properties(weft.cli_inspect PROPERTIES TIMEOUT 300 LABELS integration)
add_test(NAME weft.cli_server COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/server_test.sh
         $<TARGET_FILE:weft_cli>)
set_tests_properties(weft.cli_server PROPERTIES TIMEOUT 600 LABELS integration)
add_test(NAME weft.cli_python COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/python_test.sh
         $<TARGET_FILE:weft_cli> ${PROJECT_SOURCE_DIR}/examples/python)
set_tests_properties(weft.cli_python PROPERTIES TIMEOUT 600 LABELS integration)
add_test(NAME weft.cli_curve COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/curve_test.sh
         $<TARGET_FILE:weft_cli>)
set_tests_properties(weft.cli_curve PROPERTIES TIMEOUT 600 LABELS integration)
# Server mode under failure: SIGKILL/SIGSTOP of a worker, SIGKILL and restart of the server,
# hostile frames on every port, each during a 1,000-job run (python3 is optional: without it
# only raw TCP garbage is sent).  A few minutes; more under a sanitizer.
add_test(NAME weft.cli_reliability COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/reliability_test.sh
         $<TARGET_FILE:weft_cli>)
set_tests_properties(weft.cli_reliability PROPERTIES TIMEOUT 900 LABELS "integration;slow")
# Server, worker and client in two network namespaces joined by a veth pair, with CURVE.  Needs
# root and iproute2: without them (or without CURVE options) it prints SKIP and exits 77.
add_test(NAME weft.cli_netns COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/netns_test.sh
         $<TARGET_FILE:weft_cli>)
set_tests_properties(weft.cli_netns PROPERTIES TIMEOUT 300 LABELS integration SKIP_RETURN_CODE 77)
