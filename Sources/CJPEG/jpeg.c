#include "CJPEG.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

// The largest image decoded: 2^28 pixels (a 16384 x 16384 photograph), far above any patch source, and a bound on
// what a hostile header can make us allocate.
static const size_t max_pixels = (size_t)1 << 28;

struct error_manager {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

static void on_error(j_common_ptr info) {
    struct error_manager *manager = (struct error_manager *)info->err;
    info->err->format_message(info, manager->message);
    longjmp(manager->jump, 1);
}

// Warnings (a truncated file among them: libjpeg pads it with gray) are errors here: a damaged image must not
// pass for a photograph.
static void on_warning(j_common_ptr info, int level) {
    if (level < 0) on_error(info);
}

int synapse_jpeg_decode_gray(const unsigned char *data, size_t size, unsigned char **pixels, int *width, int *height,
                             char *error, size_t error_size) {
    struct jpeg_decompress_struct info;
    struct error_manager manager;
    unsigned char *volatile out = NULL;
    *pixels = NULL;
    info.err = jpeg_std_error(&manager.base);
    manager.base.error_exit = on_error;
    manager.base.emit_message = on_warning;
    if (setjmp(manager.jump)) {
        snprintf(error, error_size, "%s", manager.message);
        jpeg_destroy_decompress(&info);
        free(out);
        return -1;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, (unsigned long)size);
    jpeg_read_header(&info, TRUE);
    info.out_color_space = JCS_GRAYSCALE;
    jpeg_start_decompress(&info);
    if (info.output_width == 0 || info.output_height == 0 ||
        (size_t)info.output_width * info.output_height > max_pixels || info.output_components != 1) {
        snprintf(error, error_size, "%u x %u pixels is outside what is decoded (1 to 2^28 pixels)", info.output_width,
                 info.output_height);
        jpeg_destroy_decompress(&info);
        return -1;
    }
    out = malloc((size_t)info.output_width * info.output_height);
    if (!out) {
        snprintf(error, error_size, "out of memory for %u x %u pixels", info.output_width, info.output_height);
        jpeg_destroy_decompress(&info);
        return -1;
    }
    while (info.output_scanline < info.output_height) {
        JSAMPROW row = out + (size_t)info.output_scanline * info.output_width;
        jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_finish_decompress(&info);
    *width = (int)info.output_width;
    *height = (int)info.output_height;
    jpeg_destroy_decompress(&info);
    *pixels = out;
    return 0;
}

void synapse_jpeg_free(unsigned char *pixels) { free(pixels); }
