#ifndef SYNAPSE_FUZZ_CZLIB_SHIM_H
#define SYNAPSE_FUZZ_CZLIB_SHIM_H
#include <zlib.h>
#endif
