/* test_sha256.c - SHA-256 against the NIST example vectors and hashlib's
 * digests of tests/fixtures/sha256 (tools/make_sha256_fixture.py): every
 * prefix length around the padding boundaries, every split of an update,
 * and a whole file read in chunks. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/sha256.h"
#include "helpers.h"

#define DIR "tests/fixtures/sha256/"
#define DATA_SIZE 131149

static void hex_with(const void *data, size_t n, int portable, char hex[65])
{
    gr_sha256_ctx c;
    uint8_t d[GR_SHA256_SIZE];
    gr_sha256_init(&c);
    c.portable |= portable; /* 0 keeps what init chose for this CPU */
    gr_sha256_update(&c, data, n);
    gr_sha256_final(&c, d);
    gr_sha256_hex(d, hex);
}

/* The digest as this CPU computes it (SHA instructions when it has them),
 * checked equal to the C rounds' on the way: every vector below tests both. */
static void hex_of(const void *data, size_t n, char hex[65])
{
    char portable[65];
    hex_with(data, n, 0, hex);
    hex_with(data, n, 1, portable);
    cr_assert_str_eq(hex, portable, "CPU and C rounds differ on %zu bytes", n);
}

static void expect(const char *msg, const char *want)
{
    char hex[65];
    hex_of(msg, strlen(msg), hex);
    cr_assert_str_eq(hex, want, "message of %zu bytes", strlen(msg));
}

/* FIPS 180-2 appendix B and the NIST examples of SHA-256. */
Test(sha256, nist_vectors)
{
    expect("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
           "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    expect("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnop"
           "qrlmnopqrsmnopqrstnopqrstu",
           "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

Test(sha256, one_million_a)
{
    char chunk[1000];
    memset(chunk, 'a', sizeof chunk);
    for (int portable = 0; portable <= 1; portable++) {
        gr_sha256_ctx c;
        uint8_t d[GR_SHA256_SIZE];
        char hex[65];
        gr_sha256_init(&c);
        c.portable |= portable;
        for (int i = 0; i < 1000; i++)
            gr_sha256_update(&c, chunk, sizeof chunk);
        gr_sha256_final(&c, d);
        gr_sha256_hex(d, hex);
        cr_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
                         "portable %d", portable);
    }
}

static unsigned char *data_bin(void)
{
    FILE *f = fopen(DIR "data.bin", "rb");
    cr_assert(f, "cannot open " DIR "data.bin");
    unsigned char *d = malloc(DATA_SIZE);
    cr_assert(d && fread(d, 1, DATA_SIZE, f) == DATA_SIZE && fgetc(f) == EOF);
    fclose(f);
    return d;
}

Test(sha256, every_prefix_length_matches_hashlib)
{
    json_error_t je;
    json_t *root = json_load_file(DIR "prefixes.json", 0, &je);
    cr_assert(root, "%s", je.text);
    json_t *ns = json_object_get(root, "n"), *want = json_object_get(root, "sha256");
    unsigned char *d = data_bin();
    cr_assert_gt(json_array_size(ns), 200);
    for (size_t i = 0; i < json_array_size(ns); i++) {
        size_t n = (size_t)json_integer_value(json_array_get(ns, i));
        char hex[65];
        cr_assert_leq(n, DATA_SIZE);
        hex_of(d, n, hex);
        cr_assert_str_eq(hex, json_string_value(json_array_get(want, i)), "prefix of %zu bytes", n);
    }
    free(d);
    json_decref(root);
}

Test(sha256, an_update_split_anywhere_gives_the_same_digest)
{
    unsigned char *d = data_bin();
    char whole[65], hex[65];
    hex_of(d, 200, whole);
    for (size_t k = 0; k <= 200; k++) {
        gr_sha256_ctx c;
        uint8_t out[GR_SHA256_SIZE];
        gr_sha256_init(&c);
        gr_sha256_update(&c, d, k);
        gr_sha256_update(&c, NULL, 0);
        gr_sha256_update(&c, d + k, 200 - k);
        gr_sha256_final(&c, out);
        gr_sha256_hex(out, hex);
        cr_assert_str_eq(hex, whole, "split at %zu", k);
    }
    free(d);
}

Test(sha256, a_context_starts_again_after_init)
{
    gr_sha256_ctx c;
    uint8_t d[GR_SHA256_SIZE];
    char hex[65];
    gr_sha256_init(&c);
    gr_sha256_update(&c, "xyz", 3);
    gr_sha256_final(&c, d);
    gr_sha256_init(&c);
    gr_sha256_update(&c, "abc", 3);
    gr_sha256_final(&c, d);
    gr_sha256_hex(d, hex);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static gr_status file_hex(const char *path, char hex[65], gr_error *err)
{
    gr_sha256_ctx c;
    uint8_t d[GR_SHA256_SIZE];
    gr_sha256_init(&c);
    gr_status st = gr_sha256_file(path, &c, err);
    gr_sha256_final(&c, d);
    gr_sha256_hex(d, hex);
    return st;
}

Test(sha256, a_file_read_in_chunks_matches_its_sha256sums_line)
{
    char *sums = read_text(DIR "SHA256SUMS"), hex[65];
    cr_assert_eq(strlen(sums), 64 + 2 + strlen("data.bin") + 1);
    cr_assert_eq(strncmp(sums + 64, "  data.bin\n", 11), 0);
    sums[64] = '\0';
    gr_error err;
    cr_assert_eq(file_hex(DIR "data.bin", hex, &err), GR_OK, "%s", err.text);
    cr_assert_str_eq(hex, sums);
    free(sums);
}

Test(sha256, an_empty_file_has_the_empty_digest)
{
    char path[] = "/tmp/gr_sha256_XXXXXX", hex[65];
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(file_hex(path, hex, NULL), GR_OK);
    cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    unlink(path);
}

Test(sha256, file_errors_name_the_path)
{
    gr_sha256_ctx c;
    gr_error err;
    gr_sha256_init(&c);
    cr_assert_eq(gr_sha256_file(DIR "no-such-file", &c, &err), GR_EIO);
    cr_assert_str_eq(err.source, DIR "no-such-file");
    cr_assert(strstr(err.text, "cannot open"), "%s", err.text);
    cr_assert_eq(gr_sha256_file(DIR, &c, &err), GR_EIO);
    cr_assert_str_eq(err.source, DIR);
    cr_assert(strstr(err.text, "not a regular file"), "%s", err.text);
    cr_assert_eq(gr_sha256_file("/dev/null", &c, &err), GR_EIO);
    cr_assert(strstr(err.text, "not a regular file"), "%s", err.text);
}
