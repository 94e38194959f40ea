#ifndef SYNAPSE_CPNG_SHIM_H
#define SYNAPSE_CPNG_SHIM_H
// libpng's simplified API (png_image): whole images to and from memory, errors reported in the struct rather than
// by longjmp, which Swift cannot cross.
#include <png.h>
#endif
