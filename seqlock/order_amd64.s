//go:build !race

#include "textflag.h"

// func beginWrite(p *uint64, v uint64)
// One plain MOVQ. x86-TSO keeps this store before every later store of the
// writer, so no fence is needed; being an assembly function, the call is
// also a compiler barrier.
TEXT ·beginWrite(SB),NOSPLIT,$0-16
	MOVQ	p+0(FP), AX
	MOVQ	v+8(FP), BX
	MOVQ	BX, (AX)
	RET

// func commitWrite(p *uint64, v uint64)
// One plain MOVQ: a release store under x86-TSO (all earlier stores are
// visible before it), without the full barrier of XCHG.
TEXT ·commitWrite(SB),NOSPLIT,$0-16
	MOVQ	p+0(FP), AX
	MOVQ	v+8(FP), BX
	MOVQ	BX, (AX)
	RET

// func loadFence()
// x86-TSO never reorders loads with loads; this empty function only stops
// the compiler from moving the payload loads past the second counter load.
TEXT ·loadFence(SB),NOSPLIT,$0-0
	RET
