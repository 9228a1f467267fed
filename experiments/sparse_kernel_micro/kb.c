// Best-of-200 timings of the sparse kernels on one 300x784 layer (batch 64 per worker) at a given
// density, outside PruneLab: SpMM reading W through the CSR flat indices (as training does) and
// through a compact value array, and the row-walking SDDMM. Used to compare kernel variants in
// paired calls (e.g. the prefetch of 5a66bc3 against its parent's kernels):
//
//   git show 5a66bc3^:Sources/CSparseKernels/csparsekernels.c > /tmp/k_old.c
//   for k in /tmp/k_old.c Sources/CSparseKernels/csparsekernels.c; do
//     gcc -O2 -I Sources/CSparseKernels/include experiments/sparse_kernel_micro/kb.c $k -o /tmp/kb_$(basename $k .c)
//   done
//   for d in 0.05 0.1 0.3; do /tmp/kb_k_old $d; /tmp/kb_csparsekernels $d; done
//
// Prints microseconds and GFLOP/s per kernel. Single-threaded; run on an otherwise idle machine
// and alternate the binaries (a shared VM's drift moves single numbers by 30%).
#include "csparsekernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc,char**argv){
  int R=300,C=784,ld=64; double dens=argc>1?atof(argv[1]):0.1;
  srand(1);
  int32_t *ptr=malloc((R+1)*4),*flat=malloc(R*C*4),*col=malloc(R*C*4),*ident=malloc(R*C*4);
  int nnz=0; ptr[0]=0;
  for(int r=0;r<R;r++){for(int c=0;c<C;c++) if(rand()<dens*RAND_MAX){flat[nnz]=r*C+c;col[nnz]=c;ident[nnz]=nnz;nnz++;} ptr[r+1]=nnz;}
  float *W=malloc(R*C*4),*Wc=malloc(nnz*4),*X=malloc(C*ld*4),*Y=malloc(R*ld*4),*DY=malloc(R*ld*4),*G=malloc(nnz*4);
  for(int i=0;i<R*C;i++)W[i]=rand()/(float)RAND_MAX;
  for(int k=0;k<nnz;k++)Wc[k]=W[flat[k]];
  for(int i=0;i<C*ld;i++)X[i]=rand()/(float)RAND_MAX;
  for(int i=0;i<R*ld;i++)DY[i]=rand()/(float)RAND_MAX;
  double best[3]={1e9,1e9,1e9};
  for(int rep=0;rep<200;rep++){
    double t0=now(); psk_spmm_t(R,ld,ptr,flat,col,W,X,NULL,Y); double t1=now();
    psk_spmm_t(R,ld,ptr,ident,col,Wc,X,NULL,Y); double t2=now();
    psk_sddmm_t(R,ld,ptr,NULL,col,DY,X,G); double t3=now();
    if(t1-t0<best[0])best[0]=t1-t0; if(t2-t1<best[1])best[1]=t2-t1; if(t3-t2<best[2])best[2]=t3-t2;
  }
  double fl=2.0*nnz*ld;
  printf("density %.2f nnz %d: spmm dense-W %.1f us (%.1f GF/s), compact-W %.1f us (%.1f), sddmm rows %.1f us (%.1f)\n",dens,nnz,best[0]*1e6,fl/best[0]/1e9,best[1]*1e6,fl/best[1]/1e9,best[2]*1e6,fl/best[2]/1e9);
}
