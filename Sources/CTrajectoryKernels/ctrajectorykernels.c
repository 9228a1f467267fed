// The trajectory-statistics update; see include/ctrajectorykernels.h for why it is hand-written.
// Three paths (AVX-512 F+BW+VL+DQ, AVX2, portable C) chosen per call by psk_isa (CSparseKernels).
// Each does, per entry, exactly the operations of `advance1` in the same order: no fused
// multiply-add anywhere (the pragma forbids contraction; the intrinsics are separate mul/add).
#pragma clang fp contract(off)
#include "ctrajectorykernels.h"
#include "csparsekernels.h"
#include <immintrin.h>
#include <math.h>

// The path is chosen by the sparse kernels' detection (psk_isa), so that one forced path in a test
// and one CPU probe govern both C targets.

// The definition: one live entry's recurrences.
static inline void advance1(pts_state s, pts_step c, long i, float v) {
    if (!c.first) {
        float u = v - s.prev[i];
        s.disp[i] = c.bf * s.disp[i] + u;
        s.path[i] = c.bf * s.path[i] + fabsf(u);
        float f = c.bf * s.flips[i];
        if (u != 0) {
            float sg = u > 0 ? 1.0f : -1.0f;
            if (s.sign[i] != 0 && s.sign[i] != sg) f += 1;
            s.sign[i] = sg;
        }
        s.flips[i] = f;
    }
    double x = (double)v;
    s.prev[i] = v;
    double dx = x - s.mean[i];
    double m = s.mean[i] + dx * c.invW;
    s.mean[i] = m;
    s.mxx[i] = c.bd * s.mxx[i] + dx * (x - m);
    s.ctx[i] = c.bd * s.ctx[i] + c.dt * (x - m);
}

static inline void reset1(pts_state s, long i) {
    s.prev[i] = 0; s.disp[i] = 0; s.path[i] = 0; s.flips[i] = 0; s.sign[i] = 0;
    s.mean[i] = 0; s.mxx[i] = 0; s.ctx[i] = 0;
}

static inline void entry1(pts_state s, pts_step c, long i, const float *values, const float *mask, uint8_t *out) {
    if (!mask) {
        advance1(s, c, i, values[i]);
    } else if (mask[i] == 0) {
        if (out[i] != 0) return;
        reset1(s, i);
        out[i] = 1;
    } else {
        out[i] = 0;
        advance1(s, c, i, values[i]);
    }
}

static void update_scalar(pts_state s, pts_step c, long lo, long hi, const float *values, const float *mask, uint8_t *out) {
    for (long i = lo; i < hi; i++) entry1(s, c, i, values, mask, out);
}

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

// 16 entries per block: Float fields in one vector, Double fields in two halves of 8. Masked-out
// lanes get the zero state (stores of +0.0, as the reset writes); a block whose every entry was
// masked out already is skipped without a store.
AVX512 static void update_avx512(pts_state s, pts_step c, long lo, long hi, const float *values, const float *mask, uint8_t *out) {
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f), mone = _mm512_set1_ps(-1.0f);
    const __m512 bf = _mm512_set1_ps(c.bf);
    const __m512 absm = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
    const __m512d bd = _mm512_set1_pd(c.bd), dt = _mm512_set1_pd(c.dt), invW = _mm512_set1_pd(c.invW);
    long i = lo;
    for (; i + 16 <= hi; i += 16) {
        __mmask16 live = 0xFFFF;
        if (mask) {
            live = _mm512_cmp_ps_mask(_mm512_loadu_ps(mask + i), zero, _CMP_NEQ_UQ);
            __m128i o = _mm_loadu_si128((const __m128i *)(out + i));
            __mmask16 was = _mm_cmpneq_epi8_mask(o, _mm_setzero_si128());
            if (live == 0 && was == 0xFFFF) continue;
            _mm_storeu_si128((__m128i *)(out + i), _mm_maskz_mov_epi8((__mmask16)~live, _mm_set1_epi8(1)));
        }
        __m512 v = _mm512_loadu_ps(values + i);
        __m512 prev = _mm512_loadu_ps(s.prev + i);
        __m512 disp = _mm512_loadu_ps(s.disp + i), path = _mm512_loadu_ps(s.path + i);
        __m512 flips = _mm512_loadu_ps(s.flips + i), sign = _mm512_loadu_ps(s.sign + i);
        if (!c.first) {
            __m512 u = _mm512_sub_ps(v, prev);
            disp = _mm512_add_ps(_mm512_mul_ps(bf, disp), u);
            path = _mm512_add_ps(_mm512_mul_ps(bf, path), _mm512_and_ps(u, absm));
            __m512 f = _mm512_mul_ps(bf, flips);
            __mmask16 nz = _mm512_cmp_ps_mask(u, zero, _CMP_NEQ_UQ);
            __mmask16 pos = _mm512_cmp_ps_mask(u, zero, _CMP_GT_OQ);
            __m512 sn = _mm512_mask_blend_ps(pos, mone, one);
            __mmask16 flip = nz & _mm512_cmp_ps_mask(sign, zero, _CMP_NEQ_UQ) & _mm512_cmp_ps_mask(sign, sn, _CMP_NEQ_UQ);
            flips = _mm512_mask_add_ps(f, flip, f, one);
            sign = _mm512_mask_blend_ps(nz, sign, sn);
        }
        _mm512_storeu_ps(s.prev + i, _mm512_maskz_mov_ps(live, v));
        _mm512_storeu_ps(s.disp + i, _mm512_maskz_mov_ps(live, disp));
        _mm512_storeu_ps(s.path + i, _mm512_maskz_mov_ps(live, path));
        _mm512_storeu_ps(s.flips + i, _mm512_maskz_mov_ps(live, flips));
        _mm512_storeu_ps(s.sign + i, _mm512_maskz_mov_ps(live, sign));
        for (int h = 0; h < 2; h++) {
            long j = i + 8 * h;
            __mmask8 lv = (__mmask8)(live >> (8 * h));
            __m512d x = _mm512_cvtps_pd(h == 0 ? _mm512_castps512_ps256(v) : _mm512_extractf32x8_ps(v, 1));
            __m512d mean = _mm512_loadu_pd(s.mean + j);
            __m512d dx = _mm512_sub_pd(x, mean);
            __m512d m = _mm512_add_pd(mean, _mm512_mul_pd(dx, invW));
            __m512d xm = _mm512_sub_pd(x, m);
            __m512d mxx = _mm512_add_pd(_mm512_mul_pd(bd, _mm512_loadu_pd(s.mxx + j)), _mm512_mul_pd(dx, xm));
            __m512d ctx = _mm512_add_pd(_mm512_mul_pd(bd, _mm512_loadu_pd(s.ctx + j)), _mm512_mul_pd(dt, xm));
            _mm512_storeu_pd(s.mean + j, _mm512_maskz_mov_pd(lv, m));
            _mm512_storeu_pd(s.mxx + j, _mm512_maskz_mov_pd(lv, mxx));
            _mm512_storeu_pd(s.ctx + j, _mm512_maskz_mov_pd(lv, ctx));
        }
    }
    for (; i < hi; i++) entry1(s, c, i, values, mask, out);
}

#define AVX2 __attribute__((target("avx2")))

// 8 entries per block; lane masks are all-ones vectors, masked-out lanes are and-ed to +0.0.
AVX2 static void update_avx2(pts_state s, pts_step c, long lo, long hi, const float *values, const float *mask, uint8_t *out) {
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f), mone = _mm256_set1_ps(-1.0f);
    const __m256 bf = _mm256_set1_ps(c.bf);
    const __m256 absm = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 all = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    const __m256d bd = _mm256_set1_pd(c.bd), dt = _mm256_set1_pd(c.dt), invW = _mm256_set1_pd(c.invW);
    long i = lo;
    for (; i + 8 <= hi; i += 8) {
        __m256 live = all;
        if (mask) {
            live = _mm256_cmp_ps(_mm256_loadu_ps(mask + i), zero, _CMP_NEQ_UQ);
            int lm = _mm256_movemask_ps(live);
            if (lm == 0) {
                int was = 1;
                for (int j = 0; j < 8; j++) was &= out[i + j] != 0;
                if (was) continue;
            }
            for (int j = 0; j < 8; j++) out[i + j] = (uint8_t)(((lm >> j) & 1) ^ 1);
        }
        __m256 v = _mm256_loadu_ps(values + i);
        __m256 prev = _mm256_loadu_ps(s.prev + i);
        __m256 disp = _mm256_loadu_ps(s.disp + i), path = _mm256_loadu_ps(s.path + i);
        __m256 flips = _mm256_loadu_ps(s.flips + i), sign = _mm256_loadu_ps(s.sign + i);
        if (!c.first) {
            __m256 u = _mm256_sub_ps(v, prev);
            disp = _mm256_add_ps(_mm256_mul_ps(bf, disp), u);
            path = _mm256_add_ps(_mm256_mul_ps(bf, path), _mm256_and_ps(u, absm));
            __m256 f = _mm256_mul_ps(bf, flips);
            __m256 nz = _mm256_cmp_ps(u, zero, _CMP_NEQ_UQ);
            __m256 pos = _mm256_cmp_ps(u, zero, _CMP_GT_OQ);
            __m256 sn = _mm256_blendv_ps(mone, one, pos);
            __m256 flip = _mm256_and_ps(nz, _mm256_and_ps(_mm256_cmp_ps(sign, zero, _CMP_NEQ_UQ), _mm256_cmp_ps(sign, sn, _CMP_NEQ_UQ)));
            flips = _mm256_blendv_ps(f, _mm256_add_ps(f, one), flip);
            sign = _mm256_blendv_ps(sign, sn, nz);
        }
        _mm256_storeu_ps(s.prev + i, _mm256_and_ps(live, v));
        _mm256_storeu_ps(s.disp + i, _mm256_and_ps(live, disp));
        _mm256_storeu_ps(s.path + i, _mm256_and_ps(live, path));
        _mm256_storeu_ps(s.flips + i, _mm256_and_ps(live, flips));
        _mm256_storeu_ps(s.sign + i, _mm256_and_ps(live, sign));
        __m256i li = _mm256_castps_si256(live);
        for (int h = 0; h < 2; h++) {
            long j = i + 4 * h;
            __m256d lv = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(h == 0 ? _mm256_castsi256_si128(li) : _mm256_extracti128_si256(li, 1)));
            __m256d x = _mm256_cvtps_pd(h == 0 ? _mm256_castps256_ps128(v) : _mm256_extractf128_ps(v, 1));
            __m256d mean = _mm256_loadu_pd(s.mean + j);
            __m256d dx = _mm256_sub_pd(x, mean);
            __m256d m = _mm256_add_pd(mean, _mm256_mul_pd(dx, invW));
            __m256d xm = _mm256_sub_pd(x, m);
            __m256d mxx = _mm256_add_pd(_mm256_mul_pd(bd, _mm256_loadu_pd(s.mxx + j)), _mm256_mul_pd(dx, xm));
            __m256d ctx = _mm256_add_pd(_mm256_mul_pd(bd, _mm256_loadu_pd(s.ctx + j)), _mm256_mul_pd(dt, xm));
            _mm256_storeu_pd(s.mean + j, _mm256_and_pd(lv, m));
            _mm256_storeu_pd(s.mxx + j, _mm256_and_pd(lv, mxx));
            _mm256_storeu_pd(s.ctx + j, _mm256_and_pd(lv, ctx));
        }
    }
    for (; i < hi; i++) entry1(s, c, i, values, mask, out);
}

void pts_update(pts_state s, pts_step c, long lo, long hi, const float *values, const float *mask, uint8_t *out) {
    switch (psk_isa()) {
    case 3: update_avx512(s, c, lo, hi, values, mask, out); break;
    case 2: update_avx2(s, c, lo, hi, values, mask, out); break;
    default: update_scalar(s, c, lo, hi, values, mask, out); break;
    }
}
