//go:build !race

#include "textflag.h"

// func beginWrite(p *uint64, v uint64)
// STLR makes every earlier store of the writer (the odd counter) visible
// before the odd slot word; DMB ISHST then keeps every later store (the new
// payload) from becoming visible before the odd slot word.
TEXT ·beginWrite(SB),NOSPLIT,$0-16
	MOVD	p+0(FP), R0
	MOVD	v+8(FP), R1
	STLR	R1, (R0)
	DMB	$0xa // ISHST
	RET

// func loadFence()
// DMB ISHLD: every load before it (the payload copy) completes before any
// load after it (the second slot-word load). LDAR alone does not order
// earlier loads.
TEXT ·loadFence(SB),NOSPLIT,$0-0
	DMB	$0x9 // ISHLD
	RET
