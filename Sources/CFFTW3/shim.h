// fftw3.h declares both the double (fftw_) and single (fftwf_) precision interfaces.
#include <fftw3.h>
