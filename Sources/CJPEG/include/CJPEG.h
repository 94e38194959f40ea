#ifndef SYNAPSE_CJPEG_H
#define SYNAPSE_CJPEG_H

#include <stddef.h>

// Decodes a whole JPEG file held in memory into 8-bit gray pixels with libjpeg. libjpeg reports errors by
// longjmp, which Swift cannot cross, so the jump lands here, in C. Returns 0 and a malloc'd buffer of
// width * height bytes in *pixels (free it with synapse_jpeg_free), or -1 with the reason in error.
int synapse_jpeg_decode_gray(const unsigned char *data, size_t size, unsigned char **pixels, int *width, int *height,
                             char *error, size_t error_size);

void synapse_jpeg_free(unsigned char *pixels);

#endif
