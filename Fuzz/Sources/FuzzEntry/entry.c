// Program entry points for the fuzz executables.
//
// SwiftPM (tools version 5.5 and later) links every Swift executable with `--defsym main=<module>_main` so that
// tests can link against executables, and expects the module to define `<module>_main`. Built with
// `-parse-as-library`, our main.swift files define no entry point at all (only LLVMFuzzerTestOneInput), so
// each `<module>_main` here hands control to libFuzzer's driver, exactly as libFuzzer's own `main` would.
#include "FuzzEntry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#define SYNAPSE_FUZZ_ENTRY(name) \
    int name(int argc, char **argv) { return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput); }

SYNAPSE_FUZZ_ENTRY(fuzz_idx_main)
SYNAPSE_FUZZ_ENTRY(fuzz_cifar_main)
SYNAPSE_FUZZ_ENTRY(fuzz_safetensors_main)
SYNAPSE_FUZZ_ENTRY(fuzz_checkpoint_main)
