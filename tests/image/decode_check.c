/*-------------------------------------------------------------------------
 *
 * decode_check.c
 *	  Check with real decoders that stripping leaves the pixels unchanged.
 *
 * For every file given, the image is stripped with machi_image_strip, then
 * the input and the output are both decoded, with libjpeg for JPEG and
 * libpng's simplified API (to 8-bit RGBA) for PNG, and the decoded pixels
 * must be identical.  This proves that what the module keeps is enough to
 * render the photo, which the structural unit tests cannot show.  Inputs
 * the decoder itself cannot decode cleanly (seeds with placeholder entropy
 * data, lossless JPEG) are counted as skipped.
 *
 * Needs the Debian packages libjpeg62-turbo-dev and libpng-dev; run with
 * "make -C tests/image test-decode" (on the fuzz seed corpus).
 *
 * IDENTIFICATION
 *	  tests/image/decode_check.c
 *
 *-------------------------------------------------------------------------
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "image.h"

/* Decoded image: 8-bit samples, row after row. */
typedef struct
{
	unsigned int width;
	unsigned int height;
	unsigned int channels;
	unsigned char *pixels;
} pixels;

/* libjpeg error manager that longjmps back instead of exiting. */
typedef struct
{
	struct jpeg_error_mgr pub;
	jmp_buf		jump;
} jpeg_err;

/*
 * libjpeg error_exit hook: return to decode_jpeg.
 *
 * The default handler calls exit(); a failed decode must be reported as a
 * failure of this file only.  cinfo->err is a jpeg_err.
 */
static void
jpeg_err_exit(j_common_ptr cinfo)
{
	jpeg_err   *e = (jpeg_err *) cinfo->err;

	longjmp(e->jump, 1);
}

/*
 * Decode a JPEG held in memory; returns false on any decoder error.
 *
 * Warnings (corrupt data the decoder recovered from) also count as failure,
 * since our inputs are all clean.  Caller frees px->pixels on success.
 */
static bool
decode_jpeg(const unsigned char *data, size_t len, pixels *px)
{
	struct jpeg_decompress_struct cinfo;
	jpeg_err	err;
	size_t		stride;
	unsigned char *volatile buf = NULL;

	cinfo.err = jpeg_std_error(&err.pub);
	err.pub.error_exit = jpeg_err_exit;
	if (setjmp(err.jump))
	{
		jpeg_destroy_decompress(&cinfo);
		free(buf);
		return false;
	}
	jpeg_create_decompress(&cinfo);
	jpeg_mem_src(&cinfo, data, (unsigned long) len);
	jpeg_read_header(&cinfo, TRUE);
	jpeg_start_decompress(&cinfo);
	stride = (size_t) cinfo.output_width * cinfo.output_components;
	buf = malloc(stride * cinfo.output_height);
	if (buf == NULL)
		abort();
	while (cinfo.output_scanline < cinfo.output_height)
	{
		JSAMPROW	row = buf + stride * cinfo.output_scanline;

		jpeg_read_scanlines(&cinfo, &row, 1);
	}
	jpeg_finish_decompress(&cinfo);
	px->width = cinfo.output_width;
	px->height = cinfo.output_height;
	px->channels = (unsigned int) cinfo.output_components;
	px->pixels = buf;
	if (err.pub.num_warnings != 0)
	{
		jpeg_destroy_decompress(&cinfo);
		free(buf);
		return false;
	}
	jpeg_destroy_decompress(&cinfo);
	return true;
}

/*
 * Decode a PNG held in memory to 8-bit RGBA; returns false on error.
 *
 * The simplified API applies tRNS, PLTE and gAMA, so all kept ancillary
 * chunks take part in the comparison.  Caller frees px->pixels on success.
 */
static bool
decode_png(const unsigned char *data, size_t len, pixels *px)
{
	png_image	img;
	unsigned char *buf;

	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&img, data, len))
		return false;
	img.format = PNG_FORMAT_RGBA;
	buf = malloc(PNG_IMAGE_SIZE(img));
	if (buf == NULL)
		abort();
	if (!png_image_finish_read(&img, NULL, buf, 0, NULL))
	{
		free(buf);
		png_image_free(&img);
		return false;
	}
	px->width = img.width;
	px->height = img.height;
	px->channels = 4;
	px->pixels = buf;
	return true;
}

/*
 * malloc-backed allocator for machi_image_strip.  ctx is unused.
 */
static void *
check_alloc(void *ctx, size_t size)
{
	(void) ctx;
	return malloc(size ? size : 1);
}

typedef enum
{
	CHECK_PASS,
	CHECK_FAIL,
	CHECK_SKIP
} check_result;

/*
 * Strip one file and compare decoded input and output.
 *
 * Returns CHECK_PASS if both decode to the same pixels, CHECK_SKIP if the
 * input itself does not decode cleanly.  Reports problems on stderr with
 * the file name.
 */
static check_result
check_file(const char *path)
{
	FILE	   *f = fopen(path, "rb");
	unsigned char *in = NULL;
	long		size;
	unsigned char *out = NULL;
	size_t		out_len = 0;
	machi_image_info info;
	machi_image_status st;
	pixels		a = {0};
	pixels		b = {0};
	bool		ok_a;
	bool		ok_b;
	check_result result = CHECK_FAIL;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
		fseek(f, 0, SEEK_SET) != 0)
	{
		fprintf(stderr, "%s: cannot read\n", path);
		if (f)
			fclose(f);
		return CHECK_FAIL;
	}
	in = malloc((size_t) size + 1);
	if (in == NULL || fread(in, 1, (size_t) size, f) != (size_t) size)
		abort();
	fclose(f);

	st = machi_image_strip(in, (size_t) size, (size_t) size, check_alloc,
						   NULL, &out, &out_len, &info);
	if (st != MACHI_IMG_OK)
	{
		fprintf(stderr, "%s: %s\n", path, machi_image_status_message(st));
		free(in);
		return CHECK_FAIL;
	}
	if (info.type == MACHI_IMG_JPEG)
	{
		ok_a = decode_jpeg(in, (size_t) size, &a);
		ok_b = decode_jpeg(out, out_len, &b);
	}
	else
	{
		ok_a = decode_png(in, (size_t) size, &a);
		ok_b = decode_png(out, out_len, &b);
	}
	if (!ok_a)
	{
		fprintf(stderr, "%s: skipped, input does not decode cleanly\n", path);
		result = CHECK_SKIP;
	}
	else if (!ok_b)
		fprintf(stderr, "%s: stripped output does not decode cleanly\n",
				path);
	else if (a.width != b.width || a.height != b.height ||
			 a.channels != b.channels ||
			 memcmp(a.pixels, b.pixels,
					(size_t) a.width * a.height * a.channels) != 0)
		fprintf(stderr, "%s: decoded pixels differ\n", path);
	else if ((int) b.width != info.width || (int) b.height != info.height)
		fprintf(stderr, "%s: reported size differs from decoder's\n", path);
	else
		result = CHECK_PASS;
	free(a.pixels);
	free(b.pixels);
	free(out);
	free(in);
	return result;
}

/*
 * Check every file named on the command line.
 *
 * Prints PASS/FAIL/SKIP counts and exits non-zero on any failure or if
 * nothing passed.
 */
int
main(int argc, char **argv)
{
	int			pass = 0;
	int			fail = 0;
	int			skip = 0;
	int			i;

	for (i = 1; i < argc; i++)
	{
		switch (check_file(argv[i]))
		{
			case CHECK_PASS:
				pass++;
				break;
			case CHECK_FAIL:
				fail++;
				break;
			case CHECK_SKIP:
				skip++;
				break;
		}
	}
	printf("PASS: %d\nFAIL: %d\nSKIP: %d\n", pass, fail, skip);
	return (fail == 0 && pass > 0) ? 0 : 1;
}
