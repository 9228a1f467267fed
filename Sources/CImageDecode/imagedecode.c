#include "imagedecode.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

struct jpeg_error {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
    char *message;
};

static void jpeg_fail(j_common_ptr info) {
    struct jpeg_error *e = (struct jpeg_error *)info->err;
    char text[JMSG_LENGTH_MAX];
    (*info->err->format_message)(info, text);
    snprintf(e->message, 256, "%s", text);
    longjmp(e->jump, 1);
}

/// Warnings (level -1) end the decode as errors; trace messages (level >= 0) are ignored.
static void jpeg_message(j_common_ptr info, int level) {
    if (level < 0) jpeg_fail(info);
}

int prunelab_decode_jpeg(const unsigned char *data, size_t size, prunelab_image *image) {
    struct jpeg_decompress_struct info;
    struct jpeg_error error;
    unsigned char *volatile pixels = NULL;
    memset(image, 0, sizeof *image);
    info.err = jpeg_std_error(&error.manager);
    error.manager.error_exit = jpeg_fail;
    error.manager.emit_message = jpeg_message;
    error.message = image->message;
    if (setjmp(error.jump)) {
        jpeg_destroy_decompress(&info);
        free(pixels);
        return -1;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, (unsigned long)size);
    jpeg_read_header(&info, TRUE);
    if (info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK) {
        snprintf(image->message, sizeof image->message, "CMYK JPEG is not supported");
        jpeg_destroy_decompress(&info);
        return -1;
    }
    info.out_color_space = info.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&info);
    size_t stride = (size_t)info.output_width * (size_t)info.output_components;
    pixels = malloc(stride * info.output_height);
    if (!pixels) {
        snprintf(image->message, sizeof image->message, "out of memory");
        jpeg_destroy_decompress(&info);
        return -1;
    }
    while (info.output_scanline < info.output_height) {
        JSAMPROW row = pixels + stride * info.output_scanline;
        jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_finish_decompress(&info);
    image->width = (int)info.output_width;
    image->height = (int)info.output_height;
    image->channels = info.output_components;
    image->pixels = pixels;
    jpeg_destroy_decompress(&info);
    return 0;
}

int prunelab_decode_png(const unsigned char *data, size_t size, prunelab_image *image) {
    png_image png;
    memset(image, 0, sizeof *image);
    memset(&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&png, data, size)) {
        snprintf(image->message, sizeof image->message, "%s", png.message);
        png_image_free(&png);
        return -1;
    }
    int color = (png.format & PNG_FORMAT_FLAG_COLOR) != 0, alpha = (png.format & PNG_FORMAT_FLAG_ALPHA) != 0;
    png.format = color ? (alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB) : (alpha ? PNG_FORMAT_GA : PNG_FORMAT_GRAY);
    size_t stored = PNG_IMAGE_PIXEL_CHANNELS(png.format), kept = color ? 3 : 1;
    size_t count = (size_t)png.width * png.height;
    unsigned char *buffer = malloc(PNG_IMAGE_SIZE(png));
    if (!buffer) {
        snprintf(image->message, sizeof image->message, "out of memory");
        png_image_free(&png);
        return -1;
    }
    if (!png_image_finish_read(&png, NULL, buffer, 0, NULL)) {
        snprintf(image->message, sizeof image->message, "%s", png.message);
        free(buffer);
        png_image_free(&png);
        return -1;
    }
    if (stored != kept) {  // drop alpha in place: each pixel moves left, never over an unread one
        for (size_t i = 0; i < count; i++) memmove(buffer + i * kept, buffer + i * stored, kept);
    }
    image->width = (int)png.width;
    image->height = (int)png.height;
    image->channels = (int)kept;
    image->pixels = buffer;
    return 0;
}

void prunelab_image_free(prunelab_image *image) {
    free(image->pixels);
    image->pixels = NULL;
}
