// x86 (AVX2 and up) w{2,3,4,8}a8 register-blocked microkernel: MR activation
// rows x NT weight tiles (8 outputs each). Each 8-row x 4-column block of
// codes is unpacked once per call and multiplied by MR broadcast activation
// quads with _mm256_maddubs_epi16 (u8 codes x s8 activations), so one unpack
// feeds MR multiplies and one broadcast feeds NT. Exact: the 16-bit pair sums
// stay below 2^15 (docs/QUANTIZATION.md §3.3):
//   a block adds <= 2 * cmax * 127 per 16-bit lane, a superblock 16 * cmax * 127
//   (w2: 6096, w3: 14224, w4 and each w8 nibble: 30480), so w2 accumulates 5
//   superblocks, w3 2 and w4 / w8 one in int16 before widening with
//   _mm256_madd_epi16 (w8: the high nibbles are weighted by 16 there).
// Blocking (A8TilesX86): up to 11 rows (decoder steps) stream each tile
// pair over all of K, prefetching later pairs' codes; from 12 rows on, K is
// split into blocks of whole groups (~512 columns) so a tile pair's codes
// stay in L1 across the task's row blocks;
// with >= 12 rows, w2/w3/w4 tile pairs are unpacked once per K block into a
// small panel of u8 blocks, and the inner loop only loads them. Partial sums
// between K blocks go through y in the same fp32 order, so the blocking never
// changes a result bit.
// AVX3_DL (VNNI) instead uses 512-bit paths: the GEMV reads two blocks per
// zmm straight from the packed codes (GemvDots512), and from 12 rows on the
// panel holds 4 tiles of q + 128 - z as u8, so the zero point costs no
// multiply: the dots exceed the exact ones by 128 * (the row's group code
// sum), subtracted per row and group (MicroVnni).
// Included by a8-inl.h on AVX2 / AVX3 targets only.
#if defined(QASR_KERNELS_GEMM_A8_X86_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QASR_KERNELS_GEMM_A8_X86_INL_H_
#undef QASR_KERNELS_GEMM_A8_X86_INL_H_
#else
#define QASR_KERNELS_GEMM_A8_X86_INL_H_
#endif

#include <hwy/highway.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "kernels/gemm/gemm_table.h"
#include "kernels/gemm/tile_common-inl.h"

HWY_BEFORE_NAMESPACE();
namespace qasr::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
namespace x86 {

// Bytes of one superblock of NT tiles in an unpacked panel (8 blocks x NT
// tiles x 32 codes).
template <size_t NT>
inline constexpr size_t kPanelSuperblockBytes = 8 * NT * 32;
// Most superblocks in a panel's K block. Blocks are kBlockCols (1024)
// columns of whole groups, but one group wider than that takes a block of
// its own: a whole-row group of a 3x3 convolution over 128 channels is 1152
// columns (36 superblocks). Up to 2048 columns (64 KiB for 4 tiles, served
// from L2) still take the panel path; wider K blocks take the unpanelled one.
inline constexpr size_t kMaxPanelSuperblocks = 64;

// The group scales of a VNNI panel's K block (<= kMaxPanelSuperblocks
// groups) as fp32, 32 lanes per group (tile n, row r at 8n + r).
struct VnniPanelSide {
  alignas(64) float scale[kMaxPanelSuperblocks][32];
};

// GEMV code prefetch distance (bytes, rounded up to whole calls of NT tiles).
inline constexpr size_t kPrefetchBytes = 32768;

// Tiles between a GEMV call and the one it prefetches for: whole calls of NT
// tiles, at least kPrefetchBytes of codes.
template <size_t NT>
HWY_INLINE size_t GemvPrefetchTiles(const WeightLayout& l) {
  return NT * ((kPrefetchBytes / NT + l.tile_code_bytes - 1) / l.tile_code_bytes);
}

// Superblocks accumulated in int16 before widening (see the header comment).
template <int kBits>
inline constexpr size_t kSpan = kBits == 2   ? 5
                                : kBits == 3 ? 2
                                             : 1;

HWY_INLINE __m256i Load(const uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// Activations x[k .. k+3] in every 32-bit lane (vpbroadcastd from memory).
HWY_INLINE __m256i Broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// An empty asm that "modifies" v: stops the compiler from reassociating the
// chain of 16-bit adds into a tree of temporaries (which spills registers).
HWY_INLINE void KeepInRegister(__m256i& v) { asm("" : "+x"(v)); }

// AVX3_DL (Ice Lake and later, Zen 4 and later) has AVX512-VNNI: vpdpbusd adds
// four u8 x s8 products straight into each int32 lane, so the 16-bit pair
// sums, their overflow bound and the widening below are not needed.
#if HWY_TARGET == HWY_AVX3_DL
inline constexpr bool kVnni = true;
#else
inline constexpr bool kVnni = false;
#endif

// acc += sum of the four u8 x s8 products in each 32-bit lane (vpdpbusd).
// Highway 1.0.3 compiles AVX3_DL with "avxvnni" (the VEX form, which
// AVX512-VNNI CPUs such as Ice Lake and Zen 4 lack) but not "avx512vnni", so
// neither intrinsic is both available and safe here: the EVEX form is
// written out, and only AVX3_DL code (runtime-checked for AVX512-VNNI) uses it.
// V: __m256i, or __m512i (two tiles' blocks at once, see PanelDots512).
template <class V>
HWY_INLINE void Dpbusd(V& acc, V u8, V s8) {
#if HWY_TARGET == HWY_AVX3_DL
  asm("%{evex%} vpdpbusd %[b], %[a], %[acc]" : [acc] "+v"(acc) : [a] "v"(u8), [b] "v"(s8));
#else
  (void)acc;
  (void)u8;
  (void)s8;
#endif
}

// Zeroes K vectors. The asm keeps GCC from turning the loop into a memset
// (rep stos) of a stack copy.
template <size_t K>
HWY_INLINE void ZeroAll(__m256i* v) {
  for (size_t i = 0; i < K; ++i) {
    v[i] = _mm256_setzero_si256();
    KeepInRegister(v[i]);
  }
}

template <int kShift>
HWY_INLINE __m256i ShiftRight16(__m256i v) {
  if constexpr (kShift == 0) {
    return v;
  } else {
    return _mm256_srli_epi16(v, kShift);
  }
}

// Codes of block J (columns 4J .. 4J+3, all 8 rows) of superblock sb, as u8.
// kHigh selects the high nibbles of 8-bit codes. 16-bit shifts never move a
// neighbouring byte's bits into the masked positions.
template <int kBits, bool kHigh, size_t J>
HWY_INLINE __m256i BlockCodes(const uint8_t* sb) {
  if constexpr (kBits == 2 || kBits == 3) {
    const __m256i low =
        _mm256_and_si256(ShiftRight16<2 * (J % 4)>(Load(sb + 32 * (J / 4))), _mm256_set1_epi8(3));
    if constexpr (kBits == 2) {
      return low;
    } else {
      const __m256i plane = Load(sb + 64);  // bit 2 of block J is bit J of each byte
      __m256i bit;
      if constexpr (J < 2) {
        bit = _mm256_slli_epi16(plane, 2 - static_cast<int>(J));
      } else {
        bit = ShiftRight16<static_cast<int>(J) - 2>(plane);
      }
      return _mm256_or_si256(low, _mm256_and_si256(bit, _mm256_set1_epi8(4)));
    }
  } else if constexpr (kBits == 4) {
    return _mm256_and_si256(ShiftRight16<4 * (J % 2)>(Load(sb + 32 * (J / 2))),
                            _mm256_set1_epi8(0x0F));
  } else {
    return _mm256_and_si256(ShiftRight16<(kHigh ? 4 : 0)>(Load(sb + 32 * J)),
                            _mm256_set1_epi8(0x0F));
  }
}

// Block J of each superblock [sb, sb_end) of one tile's codes into a VNNI
// panel column (block J at byte J * 128 of the superblock) as the u8
// q + (128 - z): in 113 .. 143 for bits <= 4; for 8 bits the whole code
// bytes, used only where z = 128 (ZerosAre128: the offset is 0).
template <int kBits, size_t... J>
HWY_INLINE void UnpackTileVnni(const uint8_t* codes, size_t sb_bytes, size_t sb, size_t sb_end,
                               __m256i offset, uint8_t* out, std::index_sequence<J...>) {
  for (; sb < sb_end; ++sb, out += kPanelSuperblockBytes<4>) {
    if constexpr (kBits == 8) {
      (..., _mm256_store_si256(reinterpret_cast<__m256i*>(out + J * 4 * 32),
                               Load(codes + sb * sb_bytes + 32 * J)));
      (void)offset;
    } else {
      (..., _mm256_store_si256(
                reinterpret_cast<__m256i*>(out + J * 4 * 32),
                _mm256_add_epi8(BlockCodes<kBits, false, J>(codes + sb * sb_bytes), offset)));
    }
  }
}

// Whether every zero point of tiles [t, t+4) in groups [g0, g1) is 128 (the
// symmetric 8-bit grid), so 8-bit codes can enter a VNNI panel unchanged.
HWY_INLINE bool ZerosAre128(const PackedWeightsView& w, size_t t, size_t g0, size_t g1) {
  for (size_t n = 0; n < 4; ++n)
    for (size_t g = g0; g < g1; ++g) {
      const uint8_t* z = w.tile_zeros(t + n, g);
      for (size_t r = 0; r < kTileRows; ++r)
        if (z[r] != 128) return false;
    }
  return true;
}

// Groups [g0, g1) of tiles [t, t+4) into a VNNI panel (the layout of
// UnpackPanel<kBits, 4>, codes shifted by 128 - z) and its fp32 scales.
template <int kBits>
HWY_INLINE void UnpackPanelVnni(const PackedWeightsView& w, size_t t, size_t g0, size_t g1,
                                uint8_t* panel, VnniPanelSide& side) {
  const WeightLayout& l = w.layout();
  const hn::Full256<float> df;
  const size_t sb0 = l.GroupBegin(g0);
  for (size_t g = g0; g < g1; ++g)
    for (size_t n = 0; n < 4; ++n) {
      __m128i z8 = _mm_setzero_si128();
      std::memcpy(&z8, w.tile_zeros(t + n, g), kTileRows);
      // 128 - z of each tile row in all 4 bytes of its lane.
      const __m256i offset =
          _mm256_mullo_epi32(_mm256_sub_epi32(_mm256_set1_epi32(128), _mm256_cvtepu8_epi32(z8)),
                             _mm256_set1_epi32(0x01010101));
      UnpackTileVnni<kBits>(w.tile_codes(t + n), l.superblock_bytes, l.GroupBegin(g), l.GroupEnd(g),
                            offset,
                            panel + (l.GroupBegin(g) - sb0) * kPanelSuperblockBytes<4> + 32 * n,
                            std::make_index_sequence<8>());
      _mm256_store_ps(side.scale[g - g0] + 8 * n, TileScales(df, w, t + n, g, 0).raw);
    }
}

// Block J of a superblock (columns k0 + 4J .. +3) of NT tiles times MR rows
// into int16 sums s[i * NT + n].
// kPanel: tiles[n] + offset points into a panel of unpacked blocks (see
// UnpackPanel) instead of packed codes.
template <int kBits, bool kHigh, bool kPanel, size_t MR, size_t NT, size_t J>
HWY_INLINE void Block(const uint8_t* const* tiles, size_t offset, const int8_t* const* x, size_t k0,
                      __m256i* s) {
  // Codes first, then one broadcast at a time: MR * NT sums + NT codes + 1
  // broadcast stay within the 16 ymm registers (the int32 sums spill instead).
  // With VNNI, s are the int32 accumulators and 8-bit codes are used whole.
  __m256i codes[NT];
  for (size_t n = 0; n < NT; ++n) {
    if constexpr (kPanel) {
      codes[n] = Load(tiles[n] + offset + J * NT * 32);
    } else if constexpr (kVnni && kBits == 8) {
      codes[n] = Load(tiles[n] + offset + 32 * J);
    } else {
      codes[n] = BlockCodes<kBits, kHigh, J>(tiles[n] + offset);
    }
  }
  for (size_t i = 0; i < MR; ++i) {
    const __m256i xb = Broadcast4(x[i] + k0 + 4 * J);
    for (size_t n = 0; n < NT; ++n) {
      if constexpr (kVnni) {
        Dpbusd(s[i * NT + n], codes[n], xb);
      } else {
        s[i * NT + n] = _mm256_add_epi16(s[i * NT + n], _mm256_maddubs_epi16(codes[n], xb));
        KeepInRegister(s[i * NT + n]);
      }
    }
  }
}

// One superblock (columns k0 .. k0+31). Plain always-inline calls (no
// lambdas), so the sums stay in registers.
template <int kBits, bool kHigh, bool kPanel, size_t MR, size_t NT>
HWY_INLINE void Superblock(const uint8_t* const* tiles, size_t offset, const int8_t* const* x,
                           size_t k0, __m256i* s) {
  Block<kBits, kHigh, kPanel, MR, NT, 0>(tiles, offset, x, k0, s);
  Block<kBits, kHigh, kPanel, MR, NT, 1>(tiles, offset, x, k0, s);
  Block<kBits, kHigh, kPanel, MR, NT, 2>(tiles, offset, x, k0, s);
  Block<kBits, kHigh, kPanel, MR, NT, 3>(tiles, offset, x, k0, s);
  Block<kBits, kHigh, kPanel, MR, NT, 4>(tiles, offset, x, k0, s);
  Block<kBits, kHigh, kPanel, MR, NT, 5>(tiles, offset, x, k0, s);
  Block<kBits, kHigh, kPanel, MR, NT, 6>(tiles, offset, x, k0, s);
  Block<kBits, kHigh, kPanel, MR, NT, 7>(tiles, offset, x, k0, s);
}

// acc += widen(s) * weight; clears s.
template <size_t K>
HWY_INLINE void Widen(__m256i* s, __m256i* acc, int16_t weight) {
  const __m256i w = _mm256_set1_epi16(weight);
  for (size_t i = 0; i < K; ++i) {
    acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(s[i], w));
    KeepInRegister(acc[i]);
  }
  ZeroAll<K>(s);
}

// GEMV: each call streams its NT tiles once, in short runs the hardware
// prefetcher barely ramps up on. Fetches superblock sb of a later call's
// tiles, at least kPrefetchBytes ahead (prefetches never fault).
template <size_t NT>
HWY_INLINE void GemvPrefetch(const WeightLayout& l, const uint8_t* const* tiles, size_t sb) {
  const size_t ahead = GemvPrefetchTiles<NT>(l);
  for (size_t n = 0; n < NT; ++n)
    for (size_t b = 0; b < l.superblock_bytes; b += 64)
      _mm_prefetch(reinterpret_cast<const char*>(tiles[n] + ahead * l.tile_code_bytes +
                                                 sb * l.superblock_bytes + b),
                   _MM_HINT_T0);
}

// VNNI dots of group g for MR rows x a 4-tile panel whose first superblock
// is panel_sb0: block J of tiles 0, 1 (and 2, 3) are 64 adjacent bytes, one
// zmm each, so row i accumulates tiles 0-1 in a[2i] and tiles 2-3 in a[2i+1].
// The panel holds q - z + 128 as u8 (UnpackPanelVnni), so a = sum x (q - z)
// + 128 sum x: the exact group dot plus 128 times the row's group code sum.
template <size_t MR>
HWY_INLINE void PanelDots512(const WeightLayout& l, const uint8_t* panel, const int8_t* const* x,
                             size_t g, size_t panel_sb0, __m512i* a) {
  for (size_t i = 0; i < MR * 2; ++i) a[i] = _mm512_setzero_si512();
  for (size_t sb = l.GroupBegin(g); sb < l.GroupEnd(g); ++sb) {
    const uint8_t* p = panel + (sb - panel_sb0) * kPanelSuperblockBytes<4>;
    const size_t k0 = sb * kSuperblockCols;
    for (size_t j = 0; j < 8; ++j) {
      const __m512i c0 = _mm512_load_si512(p + j * 128);
      const __m512i c1 = _mm512_load_si512(p + j * 128 + 64);
      for (size_t i = 0; i < MR; ++i) {
        int32_t q;
        std::memcpy(&q, x[i] + k0 + 4 * j, 4);
        const __m512i xb = _mm512_set1_epi32(q);
        Dpbusd(a[2 * i], c0, xb);
        Dpbusd(a[2 * i + 1], c1, xb);
      }
    }
  }
}

#if HWY_TARGET == HWY_AVX3_DL
// 512-bit VNNI GEMV (w2, w4, w8; MR <= 2 rows x 4 tiles), straight from the
// packed codes. A tile's superblock is kBits / 2 zmm of codes; each holds two
// 32-byte chunks, and each byte of a chunk 8 / kBits bit fields, each field
// one block (4 columns) of 8 rows:
//   w2: chunk 0 = blocks 0-3 (bits 2f), chunk 1 = blocks 4-7;
//   w4: chunk h = blocks 2h (low nibble) and 2h + 1 (high nibble);
//   w8: chunk h = block h (whole bytes).
// So one zmm masked to field f multiplies one activation quad in its low
// half and another in its high half (BlockPairBroadcast). Where the
// registers allow, each field has its own accumulator and is only masked
// in place (no shift): field f's dots come out exactly 2^(kBits f) too
// large, and an arithmetic shift at the group's end removes that exactly
// (w2 field 3: codes <= 192, |dot| < 2^31 for any group <= kMaxGroup).
template <int kBits>
inline constexpr size_t kFields512 = 8 / kBits;
template <int kBits>
inline constexpr bool kGemv512 = kBits == 2 || kBits == 4 || kBits == 8;
template <int kBits, size_t MR>
inline constexpr bool kByField512 = kFields512<kBits> > 1 && MR * 4 * kFields512<kBits> <= 16;

// The activation quads of zmm c, field f of a superblock: block
// (2c) * F + f in the low 8 lanes and block (2c + 1) * F + f in the high 8.
template <int kBits>
HWY_INLINE __m512i BlockPairBroadcast(__m512i x32, size_t c, size_t f) {
  constexpr size_t kF = kFields512<kBits>;
  const int lo = static_cast<int>(2 * c * kF + f), hi = static_cast<int>((2 * c + 1) * kF + f);
  const __m512i idx = _mm512_inserti64x4(_mm512_set1_epi32(lo), _mm256_set1_epi32(hi), 1);
  return _mm512_permutexvar_epi32(idx, x32);
}

template <int kBits, size_t MR>
HWY_INLINE void GemvDots512(const WeightLayout& l, const uint8_t* const* tiles,
                            const int8_t* const* x, size_t g, __m256i* acc) {
  constexpr size_t kF = kFields512<kBits>, kC = kBits / 2;
  constexpr bool kByField = kByField512<kBits, MR>;
  constexpr size_t kA = kByField ? kF : 1;
  constexpr uint8_t kMask = static_cast<uint8_t>((1u << kBits) - 1u);
  __m512i a[MR * 4 * kA];
#pragma GCC unroll 16
  for (size_t i = 0; i < MR * 4 * kA; ++i) a[i] = _mm512_setzero_si512();
  for (size_t sb = l.GroupBegin(g); sb < l.GroupEnd(g); ++sb) {
    GemvPrefetch<4>(l, tiles, sb);
    const size_t k0 = sb * kSuperblockCols;
    if constexpr (!kByField && MR > 2) {
      // Fields outer: only one field's broadcasts (MR zmm) are live next to
      // the MR * 4 accumulators and the 4 tiles' codes, so nothing spills
      // (all fields' broadcasts at once spilled accumulators at MR = 4).
      __m512i x32[MR];
#pragma GCC unroll 16
      for (size_t i = 0; i < MR; ++i)
        x32[i] = _mm512_castsi256_si512(Load(reinterpret_cast<const uint8_t*>(x[i] + k0)));
#pragma GCC unroll 16
      for (size_t c = 0; c < kC; ++c) {
        __m512i v[4];
#pragma GCC unroll 16
        for (size_t n = 0; n < 4; ++n)
          v[n] = _mm512_loadu_si512(tiles[n] + sb * l.superblock_bytes + 64 * c);
#pragma GCC unroll 16
        for (size_t f = 0; f < kF; ++f) {
          __m512i xb[MR];
#pragma GCC unroll 16
          for (size_t i = 0; i < MR; ++i) xb[i] = BlockPairBroadcast<kBits>(x32[i], c, f);
#pragma GCC unroll 16
          for (size_t n = 0; n < 4; ++n) {
            __m512i q = v[n];
            if constexpr (kBits != 8)
              q = _mm512_and_si512(_mm512_srli_epi16(v[n], static_cast<unsigned>(kBits * f)),
                                   _mm512_set1_epi8(static_cast<char>(kMask)));
#pragma GCC unroll 16
            for (size_t i = 0; i < MR; ++i) Dpbusd(a[i * 4 + n], q, xb[i]);
          }
        }
      }
      continue;
    }
    __m512i xb[MR][kC * kF];
#pragma GCC unroll 16
    for (size_t i = 0; i < MR; ++i) {
      const __m512i x32 = _mm512_castsi256_si512(Load(reinterpret_cast<const uint8_t*>(x[i] + k0)));
#pragma GCC unroll 16
      for (size_t c = 0; c < kC; ++c)
#pragma GCC unroll 16
        for (size_t f = 0; f < kF; ++f) xb[i][c * kF + f] = BlockPairBroadcast<kBits>(x32, c, f);
    }
#pragma GCC unroll 16
    for (size_t n = 0; n < 4; ++n) {
      const uint8_t* p = tiles[n] + sb * l.superblock_bytes;
#pragma GCC unroll 16
      for (size_t c = 0; c < kC; ++c) {
        const __m512i v = _mm512_loadu_si512(p + 64 * c);
#pragma GCC unroll 16
        for (size_t f = 0; f < kF; ++f) {
          __m512i q = v;
          if constexpr (kBits != 8) {
            if constexpr (kByField) {
              q = _mm512_and_si512(v, _mm512_set1_epi8(static_cast<char>(kMask << (kBits * f))));
            } else {
              q = _mm512_and_si512(_mm512_srli_epi16(v, static_cast<unsigned>(kBits * f)),
                                   _mm512_set1_epi8(static_cast<char>(kMask)));
            }
          }
#pragma GCC unroll 16
          for (size_t i = 0; i < MR; ++i)
            Dpbusd(a[(i * 4 + n) * kA + (kByField ? f : 0)], q, xb[i][c * kF + f]);
        }
      }
    }
  }
#pragma GCC unroll 16
  for (size_t i = 0; i < MR * 4; ++i) {
    __m512i s = a[i * kA];
#pragma GCC unroll 16
    for (size_t f = 1; f < kA; ++f)
      s = _mm512_add_epi32(s, _mm512_srai_epi32(a[i * kA + f], static_cast<unsigned>(kBits * f)));
    acc[i] = _mm256_add_epi32(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64(s, 1));
  }
}
#endif

// Whether small-M calls (up to kStreamMaxRows rows: decoder steps over
// beams) run the 4-tile 512-bit GEMV on blocks of up to kGemvRows rows: the
// tiles' codes for K stay in L1 between row blocks, each zmm of codes is
// masked once per field for all the block's rows, and one zmm vpdpbusd
// covers two blocks, against one per ymm in the 2-tile stream path.
// Measured (in cache, K x N = 1024 x 4096 and 4096 x 1024): row pairs were
// 20-28 % faster than the stream path for w2 and w4 (w8 ~8 % slower: its
// codes need no unpacking there, so not w8); blocks of 4 rows are another
// 12-15 % (M = 4: 68.7 -> 57.5-59 us, M = 8: 137 -> 113-116 us, w2), and
// with the fields outer in GemvDots512 (no accumulator spills) another 12 %
// (51 and 98 us); 5 rows a block made M = 8 slower (5 + 3: 131 us) and 8
// rows spill (160 us).
#if HWY_TARGET == HWY_AVX3_DL
template <int kBits>
inline constexpr bool kGemvRowBlocks = kBits == 2 || kBits == 4;
#else
template <int kBits>
inline constexpr bool kGemvRowBlocks = false;
#endif
inline constexpr size_t kGemvRows = 4;

// Raw dots sum_k xq * q of group g for MR rows x NT tiles into acc. With
// kPanel, tiles are panel columns whose first superblock is panel_sb0.
template <int kBits, bool kPanel, size_t MR, size_t NT>
HWY_INLINE void GroupDots(const WeightLayout& l, const uint8_t* const* tiles,
                          const int8_t* const* x, size_t g, size_t panel_sb0, __m256i* acc) {
  constexpr size_t kAcc = MR * NT;
  const size_t end = l.GroupEnd(g);
#if HWY_TARGET == HWY_AVX3_DL
  if constexpr (!kPanel && NT == 4 && MR <= kGemvRows && kGemv512<kBits>) {
    GemvDots512<kBits, MR>(l, tiles, x, g, acc);
    return;
  }
#endif
  ZeroAll<kAcc>(acc);
  if constexpr (kVnni) {
    for (size_t sb = l.GroupBegin(g); sb < end; ++sb) {
      if constexpr (NT == 4 && !kPanel) GemvPrefetch<NT>(l, tiles, sb);
      const size_t offset =
          kPanel ? (sb - panel_sb0) * kPanelSuperblockBytes<NT> : sb * l.superblock_bytes;
      Superblock<kBits, false, kPanel, MR, NT>(tiles, offset, x, sb * kSuperblockCols, acc);
    }
    return;
  }
  __m256i s[kAcc];
  ZeroAll<kAcc>(s);
  for (size_t sb = l.GroupBegin(g); sb < end;) {
    const size_t span_end = sb + kSpan<kBits> < end ? sb + kSpan<kBits> : end;
    for (; sb < span_end; ++sb) {
      if constexpr (NT == 4 && !kPanel) GemvPrefetch<NT>(l, tiles, sb);
      const size_t offset =
          kPanel ? (sb - panel_sb0) * kPanelSuperblockBytes<NT> : sb * l.superblock_bytes;
      Superblock<kBits, false, kPanel, MR, NT>(tiles, offset, x, sb * kSuperblockCols, s);
      if constexpr (kBits == 8) {
        static_assert(!kPanel, "8-bit codes are split into nibbles, not panelled");
        Widen<kAcc>(s, acc, 1);
        Superblock<kBits, true, false, MR, NT>(tiles, offset, x, sb * kSuperblockCols, s);
        Widen<kAcc>(s, acc, 16);
      }
    }
    if constexpr (kBits != 8) Widen<kAcc>(s, acc, 1);
  }
}

// Group g of rows [m, m+MR) x tiles [t, t+NT): the exact dots d, then
// y = fma(scale, float(d), y) (y = fma(scale, float(d), 0) for the first).
template <int kBits, bool kPanel, size_t MR, size_t NT, bool kDots, bool kFirst>
HWY_INLINE void GroupEpilogue(const A8Job& job, size_t t, size_t m, size_t g,
                              const int8_t* const* xr, const uint8_t* const* tiles,
                              size_t panel_sb0, __m256* y) {
  const hn::Full256<int32_t> di;
  const hn::Full256<float> df;
  const QuantizedActivations& x = *job.x;
  const WeightLayout& l = job.w.layout();
  const size_t ng = l.groups;
  __m256i acc[MR * NT];
  GroupDots<kBits, kPanel, MR, NT>(l, tiles, xr, g, panel_sb0, acc);
  for (size_t n = 0; n < NT; ++n) {
    const auto z = TileZeros(di, job.w, t + n, g, 0);
    const auto s = TileScales(df, job.w, t + n, g, 0);
    for (size_t i = 0; i < MR; ++i) {
      const auto xs = hn::Set(di, x.sums[(m + i) * ng + g]);
      const auto d = hn::Sub(hn::Vec<decltype(di)>{acc[i * NT + n]}, hn::Mul(z, xs));
      if constexpr (kDots) {
        StoreDots(di, d, job.dots, m + i, (t + n) * kTileRows, l.shape.rows, ng, g);
      } else {
        const auto prev = kFirst ? hn::Zero(df) : hn::Vec<decltype(df)>{y[i * NT + n]};
        y[i * NT + n] = hn::MulAdd(s, hn::ConvertTo(df, d), prev).raw;
      }
    }
  }
}

// Rows [m, m+MR) x tiles [t, t+NT), groups [g0, g1): the group dots, scaled
// and summed in group order into y. A K block after the first resumes from
// the partial sums the previous one left in job.y; the last applies the
// activation scale and bias. Splitting K at group boundaries keeps the
// fp32 operation order, so results do not depend on the blocking.
// panel: null, or the unpacked codes of tiles [t, t+NT) for groups [g0, g1).
template <int kBits, bool kPanel, size_t MR, size_t NT, bool kDots>
HWY_INLINE void Micro(const A8Job& job, size_t t, size_t m, size_t g0, size_t g1,
                      const uint8_t* panel) {
  const hn::Full256<float> df;
  const QuantizedActivations& x = *job.x;
  const WeightLayout& l = job.w.layout();
  const size_t n_rows = l.shape.rows, ng = l.groups;
  const int8_t* xr[MR];
  for (size_t i = 0; i < MR; ++i) xr[i] = x.row(m + i);
  const uint8_t* tiles[NT];
  for (size_t n = 0; n < NT; ++n) tiles[n] = kPanel ? panel + 32 * n : job.w.tile_codes(t + n);
  const size_t sb0 = l.GroupBegin(g0);
  if constexpr (NT == 4 && !kPanel) {
    // GEMV: the group scales and zero points of the call GroupDots
    // prefetches codes for (a separate stream from the codes).
    const size_t ahead = GemvPrefetchTiles<NT>(l);
    if (t + ahead + NT <= l.tiles) {
      const uint8_t* scales = job.w.tile_scales(t + ahead, 0);
      const uint8_t* zeros = job.w.tile_zeros(t + ahead, 0);
      for (size_t b = 0; b < NT * ng * kTileRows * 2; b += 64)
        _mm_prefetch(reinterpret_cast<const char*>(scales + b), _MM_HINT_T0);
      for (size_t b = 0; b < NT * ng * kTileRows; b += 64)
        _mm_prefetch(reinterpret_cast<const char*>(zeros + b), _MM_HINT_T0);
    }
  }
  __m256 y[MR * NT];  // written by group 0 (no zero-fill: it compiles to rep stos)
  size_t g = g0;
  if (kDots || g0 == 0) {
    GroupEpilogue<kBits, kPanel, MR, NT, kDots, true>(job, t, m, g++, xr, tiles, sb0, y);
  } else {
    for (size_t n = 0; n < NT; ++n)  // partial sums a previous K block left in y
      for (size_t i = 0; i < MR; ++i)
        y[i * NT + n] = LoadRows(df, job.y + (m + i) * job.ldy, (t + n) * kTileRows, n_rows).raw;
  }
  for (; g < g1; ++g)
    GroupEpilogue<kBits, kPanel, MR, NT, kDots, false>(job, t, m, g, xr, tiles, sb0, y);
  if constexpr (!kDots) {
    for (size_t n = 0; n < NT; ++n) {
      const size_t n0 = (t + n) * kTileRows;
      const auto bias = LoadBias(df, job.bias, n0, n_rows);
      for (size_t i = 0; i < MR; ++i) {
        auto out = hn::Vec<decltype(df)>{y[i * NT + n]};
        if (g1 == ng) out = hn::MulAdd(hn::Set(df, x.scales[m + i]), out, bias);
        StoreRows(df, out, job.y + (m + i) * job.ldy, n0, n_rows);
      }
    }
  }
}

// Rows per VNNI panel block: 6 rows x 2 zmm = 12 accumulators, enough
// independent vpdpbusd chains to cover the instruction's latency (8 rows
// measured 2.3x slower, 4 rows ~8 % slower).
inline constexpr size_t kVnniRows = 6;

#if HWY_TARGET == HWY_AVX3_DL
HWY_INLINE __m512i Join(__m256i lo, __m256i hi) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}
HWY_INLINE __m512 Join(__m256 lo, __m256 hi) {
  return _mm512_castsi512_ps(Join(_mm256_castps_si256(lo), _mm256_castps_si256(hi)));
}

// The VNNI panel kernel: rows [m, m+MR) x the 4 panel tiles [t, t+4) (two
// zmm of 16 outputs per row), groups [g0, g1). Each group's dots minus 128
// times the row's code sum are the exact group dots d; y = fma(scale, float(d), y)
// in zmm, the operations and order of Micro (so the results are those of
// every other target, bit for bit). kDots: store d instead (tests).
template <int kBits, size_t MR, bool kDots>
HWY_INLINE void MicroVnni(const A8Job& job, size_t t, size_t m, size_t g0, size_t g1,
                          const uint8_t* panel, const VnniPanelSide& side) {
  const hn::Full256<int32_t> di;
  const hn::Full256<float> df;
  const QuantizedActivations& x = *job.x;
  const WeightLayout& l = job.w.layout();
  const size_t n_rows = l.shape.rows, ng = l.groups;
  const int8_t* xr[MR];
  for (size_t i = 0; i < MR; ++i) xr[i] = x.row(m + i);
  const size_t sb0 = l.GroupBegin(g0);
  // The sums stay in registers next to the dots' accumulators (MR = 6: 12 +
  // 12 zmm, plus the codes, the broadcast and the scales).
  __m512 ys[MR * 2];
  if constexpr (!kDots) {
    for (size_t i = 0; i < MR; ++i)
      for (size_t p = 0; p < 2; ++p) {
        const size_t n0 = (t + 2 * p) * kTileRows;
        const float* row = job.y + (m + i) * job.ldy;
        ys[2 * i + p] = g0 == 0 ? _mm512_setzero_ps()  // fma(s, d, 0) is the first group's s * d
                                : Join(LoadRows(df, row, n0, n_rows).raw,
                                       LoadRows(df, row, n0 + kTileRows, n_rows).raw);
      }
  }
  for (size_t g = g0; g < g1; ++g) {
    __m512i a[MR * 2];
    PanelDots512<MR>(l, panel, xr, g, sb0, a);
    const __m512 sc[2] = {_mm512_load_ps(side.scale[g - g0]),
                          _mm512_load_ps(side.scale[g - g0] + 16)};
    for (size_t i = 0; i < MR; ++i) {
      const __m512i xs128 = _mm512_set1_epi32(x.sums[(m + i) * ng + g] * 128);
      for (size_t p = 0; p < 2; ++p) {
        const __m512i d = _mm512_sub_epi32(a[2 * i + p], xs128);
        if constexpr (kDots) {
          const size_t n0 = (t + 2 * p) * kTileRows;
          StoreDots(di, hn::Vec<decltype(di)>{_mm512_castsi512_si256(d)}, job.dots, m + i, n0,
                    n_rows, ng, g);
          StoreDots(di, hn::Vec<decltype(di)>{_mm512_extracti64x4_epi64(d, 1)}, job.dots, m + i,
                    n0 + kTileRows, n_rows, ng, g);
        } else {
          ys[2 * i + p] = _mm512_fmadd_ps(sc[p], _mm512_cvtepi32_ps(d), ys[2 * i + p]);
        }
      }
    }
  }
  if constexpr (!kDots) {
    for (size_t p = 0; p < 2; ++p) {
      const size_t n0 = (t + 2 * p) * kTileRows;
      const __m512 bias = Join(LoadBias(df, job.bias, n0, n_rows).raw,
                               LoadBias(df, job.bias, n0 + kTileRows, n_rows).raw);
      for (size_t i = 0; i < MR; ++i) {
        __m512 out = ys[2 * i + p];
        if (g1 == ng) out = _mm512_fmadd_ps(_mm512_set1_ps(x.scales[m + i]), out, bias);
        float* row = job.y + (m + i) * job.ldy;
        StoreRows(df, hn::Vec<decltype(df)>{_mm512_castps512_ps256(out)}, row, n0, n_rows);
        StoreRows(df, hn::Vec<decltype(df)>{_mm512_extractf32x8_ps(out, 1)}, row, n0 + kTileRows,
                  n_rows);
      }
    }
  }
}
#endif

// side: the VNNI panel's side data (4-tile panels on AVX3_DL only).
template <int kBits, bool kPanel, size_t NT, bool kDots>
HWY_INLINE void TileStep(const A8Job& job, size_t m0, size_t m1, size_t t, size_t g0, size_t g1,
                         const uint8_t* panel, const VnniPanelSide* side = nullptr) {
#if HWY_TARGET == HWY_AVX3_DL
  if constexpr (kPanel && NT == 4) {
    ForRowBlocks<kVnniRows>(m0, m1, [&]<size_t MR>(size_t m) {
      MicroVnni<kBits, MR, kDots>(job, t, m, g0, g1, panel, *side);
    });
  } else  // NOLINT(readability/braces): the #else arm has no `if`
#else
  (void)side;
#endif
  {
    // 4 rows x 4 tiles would spill the ymm kernel; callers pick NT = 4 only
    // for <= 2 rows, or <= kGemvRows on the 512-bit GEMV.
    constexpr bool kMultiRow = NT == 4 && !kPanel && kGemvRowBlocks<kBits>;
    ForRowBlocks<kMultiRow ? kGemvRows : 4>(m0, m1, [&]<size_t MR>(size_t m) {
      if constexpr (MR * NT <= 8 || kMultiRow)
        Micro<kBits, kPanel, MR, NT, kDots>(job, t, m, g0, g1, panel);
    });
  }
}

// Superblock J of tiles [t, t+NT) into the panel: block J of tile n at
// byte (J * NT + n) * 32.
template <int kBits, size_t NT, size_t... J>
HWY_INLINE void UnpackSuperblock(const uint8_t* const* tiles, size_t offset, uint8_t* out,
                                 std::index_sequence<J...>) {
  (..., [&] {
    for (size_t n = 0; n < NT; ++n)
      _mm256_store_si256(reinterpret_cast<__m256i*>(out + (J * NT + n) * 32),
                         BlockCodes<kBits, false, J>(tiles[n] + offset));
  }());
}

// Unpacks superblocks [sb0, sb1) of tiles [t, t+NT) (bits <= 4: codes fit
// the vpmaddubsw operand as they are).
template <int kBits, size_t NT>
HWY_INLINE void UnpackPanel(const PackedWeightsView& w, size_t t, size_t sb0, size_t sb1,
                            uint8_t* panel) {
  const uint8_t* tiles[NT];
  for (size_t n = 0; n < NT; ++n) tiles[n] = w.tile_codes(t + n);
  for (size_t sb = sb0; sb < sb1; ++sb)
    UnpackSuperblock<kBits, NT>(tiles, sb * w.layout().superblock_bytes,
                                panel + (sb - sb0) * kPanelSuperblockBytes<NT>,
                                std::make_index_sequence<8>());
}

// Columns per K block (rounded to whole groups): a tile pair's codes for one
// block stay in L1 while every row block of the task reuses them.
// With VNNI a whole 1024-column panel block (32 KiB for 4 tiles) measured
// 4-8 % faster than 512 columns (fewer partial-sum passes through y).
inline constexpr size_t kBlockCols = kVnni ? 1024 : 512;
// Rows from which a task unpacks a tile pair's K block once into a panel
// (saving the shifts and masks in every row block) instead of per call.
inline constexpr size_t kPanelMinRows = 12;

// Rows up to which a task streams whole rows of tiles (decoder steps over
// beams; below the panel path): K is not blocked, because a tile pair's codes
// for all of K (<= 16 KiB at K = 4096, w4) stay in L1 across the task's
// <= 3 row blocks, and the codes of a later tile pair are prefetched, as in
// the GEMV.
inline constexpr size_t kStreamMaxRows = kPanelMinRows - 1;

// Prefetches superblocks [sb0, sb1) of the codes of tiles [t, t+nt), if
// those tiles exist (prefetches never fault; this only skips useless ones).
HWY_INLINE void PrefetchCodes(const PackedWeightsView& w, size_t t, size_t nt, size_t sb0,
                              size_t sb1) {
  const WeightLayout& l = w.layout();
  if (t + nt > l.tiles) return;
  for (size_t n = 0; n < nt; ++n) {
    const uint8_t* p = w.tile_codes(t + n) + sb0 * l.superblock_bytes;
    for (size_t b = 0; b < (sb1 - sb0) * l.superblock_bytes; b += 64)
      _mm_prefetch(reinterpret_cast<const char*>(p + b), _MM_HINT_T0);
  }
}

// Tiles [t0, t1) in steps of NT (4 for GEMV-like row counts, else 2), K in
// blocks of whole groups (one block up to kStreamMaxRows rows).
template <int kBits, bool kDots>
void A8TilesX86(const A8Job& job, size_t m0, size_t m1, size_t t0, size_t t1) {
  const WeightLayout& l = job.w.layout();
  const bool gemv = m1 - m0 <= 2;
  const bool stream = m1 - m0 <= kStreamMaxRows;
  const size_t block_groups = stream ? l.groups : std::max<size_t>(1, kBlockCols / l.group_cols);
  alignas(64) uint8_t panel[kMaxPanelSuperblocks * kPanelSuperblockBytes < kVnni ? 4 : 2 > ];
  for (size_t g0 = 0; g0 < l.groups; g0 += block_groups) {
    const size_t g1 = std::min(l.groups, g0 + block_groups);
    const size_t sb0 = l.GroupBegin(g0), sb1 = l.GroupEnd(g1 - 1);
    size_t t = t0;
    if (gemv) {
      for (; t + 4 <= t1; t += 4) TileStep<kBits, false, 4, kDots>(job, m0, m1, t, g0, g1, nullptr);
    } else if (kGemvRowBlocks<kBits> && stream) {
      for (; t + 4 <= t1; t += 4)
        for (size_t m = m0; m < m1; m += kGemvRows)
          TileStep<kBits, false, 4, kDots>(job, m, std::min(m + kGemvRows, m1), t, g0, g1, nullptr);
    }
    if constexpr (kBits <= 4 || kVnni) {
      if (m1 - m0 >= kPanelMinRows && sb1 - sb0 <= kMaxPanelSuperblocks) {
        if constexpr (kVnni) {
          // 8-bit codes only on the symmetric grid (z = 128: q + 128 - z = q
          // fits a byte); other 8-bit tiles take the unpanelled path below.
          VnniPanelSide side;
          for (; t + 4 <= t1 && (kBits != 8 || ZerosAre128(job.w, t, g0, g1)); t += 4) {
            UnpackPanelVnni<kBits>(job.w, t, g0, g1, panel, side);
            TileStep<kBits, true, 4, kDots>(job, m0, m1, t, g0, g1, panel, &side);
          }
        }
        if constexpr (kBits <= 4) {
          for (; t + 2 <= t1; t += 2) {
            UnpackPanel<kBits, 2>(job.w, t, sb0, sb1, panel);
            TileStep<kBits, true, 2, kDots>(job, m0, m1, t, g0, g1, panel);
          }
        }
      }
    }
    if (stream) {
      const size_t ahead = GemvPrefetchTiles<2>(l);
      for (; t + 2 <= t1; t += 2) {
        PrefetchCodes(job.w, t + ahead, 2, sb0, sb1);
        TileStep<kBits, false, 2, kDots>(job, m0, m1, t, g0, g1, nullptr);
      }
    }
    for (; t + 2 <= t1; t += 2) TileStep<kBits, false, 2, kDots>(job, m0, m1, t, g0, g1, nullptr);
    if (t < t1) TileStep<kBits, false, 1, kDots>(job, m0, m1, t, g0, g1, nullptr);
  }
}

}  // namespace x86

#endif  // AVX2 / AVX3

}  // namespace qasr::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
