#ifndef SYNAPSE_CBLAS_SHIM_H
#define SYNAPSE_CBLAS_SHIM_H
#include <cblas.h>
#endif
