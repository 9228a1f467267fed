/* Minimal reproducer for a libhdf5 1.10.8 (Debian 1.10.8+repack1-1) segfault on a hostile file:
 * H5Fopen succeeds, then H5Lexists(file, "X_train") dereferences NULL in H5F__accum_read
 * (H5Lexists > H5G_traverse > H5G__obj_lookup > H5G__stab_lookup > H5HL_protect > H5AC_protect
 *  > H5C_protect > H5F_block_read > H5PB_read > H5F__accum_read > memcpy).
 *   gcc h5lexists_repro.c $(pkg-config --cflags --libs hdf5) -o repro
 *   ./repro libhdf5-1.10.8-H5Lexists-segv.h5        # Segmentation fault (exit 139)
 * The same happens with the core (in-memory) driver. Found by scripts/fuzz.sh (target hdf5),
 * minimized to 409 bytes with -minimize_crash=1. */
#include <hdf5.h>
#include <stdio.h>
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t file = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
    printf("H5Fopen: %lld\n", (long long)file);
    fflush(stdout);
    if (file < 0) return 1;
    printf("H5Lexists: %d\n", (int)H5Lexists(file, "X_train", H5P_DEFAULT));  /* crashes here */
    H5Fclose(file);
    return 0;
}
