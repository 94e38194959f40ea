#ifndef SYNAPSE_CZLIB_SHIM_H
#define SYNAPSE_CZLIB_SHIM_H
#include <zlib.h>
#endif
