// What vector.c and gemm.c share: vectors of sixteen floats (clang's vector extensions), written once for every
// instruction set. Their bits are part of what they promise (the same on every target, or an order that depends on
// K only), so nothing is reassociated and no multiply-add is contracted unless the code asks for one.
#ifndef SYNAPSE_CVECTOR_LANES_H
#define SYNAPSE_CVECTOR_LANES_H

#ifdef __FAST_MATH__
#error "CVector must not be built with fast math: reassociation would change its results from target to target"
#endif

#pragma clang fp contract(off)
// Every function taking or returning a vector is inlined into its target's entry point, so no vector crosses a call
// between code compiled for different instructions.
#pragma clang diagnostic ignored "-Wunknown-warning-option"
#pragma clang diagnostic ignored "-Wpsabi"

enum { LANES = 16 };
typedef float floats __attribute__((vector_size(4 * LANES)));

#define INLINE static inline __attribute__((always_inline))

#endif
