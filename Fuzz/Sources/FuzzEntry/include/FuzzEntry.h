#ifndef SYNAPSE_FUZZ_ENTRY_H
#define SYNAPSE_FUZZ_ENTRY_H
#include <stddef.h>
#include <stdint.h>
// Nothing to import: this module only supplies the `<target>_main` symbols the linker asks for (see entry.c).
#endif
