# Every build option of weft, in one place.
option(WEFT_TESTS "Build the test suite (cmocka) and the test-only hooks (WEFT_TESTING)" ON)
option(WEFT_EXAMPLES "Build the examples" ON)
option(WEFT_WERROR "Treat warnings as errors" ON)
option(WEFT_SANITIZE "Build with AddressSanitizer + UndefinedBehaviorSanitizer" OFF)
option(WEFT_FUZZ "Build the libFuzzer targets (needs clang)" OFF)
option(WEFT_CLI "Build the weft command line (needs libfyaml)" ON)
option(WEFT_BENCH "Build the benchmark programs in bench/ (not part of the test suite)" OFF)
