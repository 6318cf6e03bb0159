// HDF5's type and property handles (H5T_NATIVE_DOUBLE, H5P_DEFAULT, ...) are macros that Swift does not import, and
// its iteration API is renamed between 1.10 and 1.14 by macros too; these functions give Swift one stable surface.
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

static inline hid_t curvature_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t curvature_h5s_all(void) { return H5S_ALL; }
static inline hid_t curvature_h5p_link_create(void) { return H5P_LINK_CREATE; }
static inline unsigned curvature_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline hid_t curvature_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t curvature_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t curvature_h5t_c_s1(void) { return H5T_C_S1; }
static inline hid_t curvature_h5t_std_u64le(void) { return H5T_STD_U64LE; }
static inline hid_t curvature_h5t_std_i64le(void) { return H5T_STD_I64LE; }

/// Opens a file read-only so that closing it closes every object still open in it (a damaged file can leave some).
static inline hid_t curvature_h5_open_read_only(const char *path) {
    hid_t access = H5Pcreate(H5P_FILE_ACCESS);
    if (access < 0) return -1;
    H5Pset_fclose_degree(access, H5F_CLOSE_STRONG);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, access);
    H5Pclose(access);
    return file;
}

/// Called once, before any other HDF5 call: no cleanup at exit (every file is closed when its call returns, and a
/// damaged file can leave the library's caches in a state its exit handler reports as "infinite loop closing library").
static inline void curvature_h5_set_up(void) {
    H5dont_atexit();
}

/// Called on the calling thread before its HDF5 calls: no printing of HDF5's error stack (the callers turn failures
/// into one-line errors). Debian's libhdf5 is built thread-safe, where this setting belongs to one thread.
static inline void curvature_h5_quiet_errors(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

/// The paths of every dataset under a file's root, each followed by a NUL, found by walking the links
/// (hard links only, so a cycle of soft links cannot loop).
typedef struct {
    char *bytes;
    size_t length;
    size_t capacity;
    int failed;
} curvature_h5_names;

static inline herr_t curvature_h5_visit_link(hid_t group, const char *name, const H5L_info_t *info, void *data) {
    curvature_h5_names *names = (curvature_h5_names *)data;
    if (info->type != H5L_TYPE_HARD) return 0;
    hid_t object = H5Oopen(group, name, H5P_DEFAULT);
    if (object < 0) return 0;
    int isDataset = H5Iget_type(object) == H5I_DATASET;
    H5Oclose(object);
    if (!isDataset) return 0;
    size_t needed = strlen(name) + 1;
    if (names->length + needed > names->capacity) {
        size_t capacity = (names->capacity + needed) * 2;
        char *grown = (char *)realloc(names->bytes, capacity);
        if (grown == NULL) { names->failed = 1; return -1; }
        names->bytes = grown;
        names->capacity = capacity;
    }
    memcpy(names->bytes + names->length, name, needed);
    names->length += needed;
    return 0;
}

/// Walks `file` in creation order where the file tracks it, else by name; returns a negative value on failure.
static inline herr_t curvature_h5_dataset_names(hid_t file, curvature_h5_names *names) {
    herr_t status = H5Lvisit(file, H5_INDEX_CRT_ORDER, H5_ITER_INC, curvature_h5_visit_link, names);
    if (status < 0 && !names->failed) {
        names->length = 0;
        status = H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, curvature_h5_visit_link, names);
    }
    return names->failed ? -1 : status;
}
