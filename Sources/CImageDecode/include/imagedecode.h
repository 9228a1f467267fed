#ifndef PRUNELAB_IMAGEDECODE_H
#define PRUNELAB_IMAGEDECODE_H
#include <stddef.h>

/// JPEG and PNG decoding from memory into 8-bit pixels, for `prunelab predict`.
///
/// Why C: libjpeg reports a fatal error by calling `error_exit`, which must not return; the
/// library's contract is a `longjmp` back to the caller, and Swift cannot call `setjmp`. So the
/// decoding loop and its `setjmp` live here, and Swift sees a plain status code and message.
/// libjpeg's warnings (a truncated file is decoded with grey padding after the warning
/// "Premature end of JPEG file") are treated as errors too. PNG goes through libpng's simplified
/// API (`png_image_*`), which reports errors in `png_image.message` without a jump.

/// A decoded image: `height` rows of `width` pixels of `channels` bytes (1: grey, 3: RGB),
/// row-major, channels interleaved. `pixels` is malloc'ed; free it with `prunelab_image_free`.
typedef struct {
    int width;
    int height;
    int channels;
    unsigned char *pixels;
    char message[256];
} prunelab_image;

/// Decodes a baseline or progressive JPEG (greyscale stays 1 channel, YCbCr becomes RGB; CMYK is
/// refused). Returns 0 on success, else -1 with `image->message` set and no pixels.
int prunelab_decode_jpeg(const unsigned char *data, size_t size, prunelab_image *image);

/// Decodes a PNG of any bit depth and colour type to 8-bit grey (1 channel) when it has no colour,
/// else RGB (3 channels); an alpha channel is dropped (not composited), as Pillow's
/// `convert("RGB")` does. 16-bit samples are reduced by libpng. Returns 0 or -1 as above.
int prunelab_decode_png(const unsigned char *data, size_t size, prunelab_image *image);

void prunelab_image_free(prunelab_image *image);

#endif
