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
