#ifndef PRUNELAB_CHDF5_SHIM_H
#define PRUNELAB_CHDF5_SHIM_H
#include <hdf5.h>

// HDF5's native type ids and property-list defaults are macros over global variables that
// need H5open() first; Swift cannot import them, so they are wrapped here.
static inline hid_t prunelab_h5t_native_float(void)  { H5open(); return H5T_NATIVE_FLOAT; }
static inline hid_t prunelab_h5t_native_double(void) { H5open(); return H5T_NATIVE_DOUBLE; }
static inline hid_t prunelab_h5t_native_uint8(void)  { H5open(); return H5T_NATIVE_UINT8; }
static inline hid_t prunelab_h5t_native_int8(void)   { H5open(); return H5T_NATIVE_INT8; }
static inline hid_t prunelab_h5t_native_uint16(void) { H5open(); return H5T_NATIVE_UINT16; }
static inline hid_t prunelab_h5t_native_int16(void)  { H5open(); return H5T_NATIVE_INT16; }
static inline hid_t prunelab_h5t_native_uint32(void) { H5open(); return H5T_NATIVE_UINT32; }
static inline hid_t prunelab_h5t_native_int32(void)  { H5open(); return H5T_NATIVE_INT32; }
static inline hid_t prunelab_h5t_native_int64(void)  { H5open(); return H5T_NATIVE_INT64; }
static inline hid_t prunelab_h5t_native_uint64(void) { H5open(); return H5T_NATIVE_UINT64; }
static inline hid_t prunelab_h5t_c_s1(void)          { H5open(); return H5T_C_S1; }
static inline hid_t prunelab_h5p_default(void)       { return H5P_DEFAULT; }
static inline hid_t prunelab_h5p_dataset_create(void){ H5open(); return H5P_DATASET_CREATE; }
static inline hid_t prunelab_h5p_link_create(void)   { H5open(); return H5P_LINK_CREATE; }
static inline hid_t prunelab_h5p_file_access(void)   { H5open(); return H5P_FILE_ACCESS; }
static inline hid_t prunelab_h5e_default(void)       { return H5E_DEFAULT; }
// Size marking a variable-length string type: `(size_t)-1`, which Swift cannot import.
static inline size_t prunelab_h5t_variable(void)     { return H5T_VARIABLE; }
static inline hid_t prunelab_h5s_all(void)           { return H5S_ALL; }
static inline unsigned prunelab_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned prunelab_h5f_acc_trunc(void)  { return H5F_ACC_TRUNC; }
// Silence HDF5's own stderr error-stack printing; PruneLab reports errors itself.
static inline void prunelab_h5_silence_errors(void)  { H5open(); H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
// The unlimited dimension size and the SWMR-write open flag (macros).
static inline hsize_t prunelab_h5s_unlimited(void)   { return H5S_UNLIMITED; }
static inline H5F_libver_t prunelab_h5f_libver_latest(void) { return H5F_LIBVER_LATEST; }
static inline unsigned prunelab_h5f_acc_swmr_read(void) { return H5F_ACC_SWMR_READ; }
#endif
