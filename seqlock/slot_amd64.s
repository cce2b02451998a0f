//go:build !race

#include "textflag.h"

// The whole of one write, and one read attempt, for slots of up to
// slotAsmMax bytes: no call to runtime.memmove, no compiler between the
// counter accesses and the copy, so the order of the instructions below is
// the order of the protocol. x86-TSO keeps stores in order and loads in
// order; docs/memory-model.md has the argument.

// COPY copies CX bytes from (SI) to (DI); its labels are local to the
// function it is used in, once per function. It clobbers
// AX, BX, DX and X0. 16 bytes and more: 16-byte moves, the last one
// overlapping the one before; fewer: two possibly overlapping moves of 8 or
// 4 bytes, or for 1 to 3 bytes the first, middle and last byte.
#define COPY \
	CMPQ	CX, $16; \
	JB	copy_small; \
	LEAQ	-16(CX), DX; \
	XORQ	AX, AX; \
copy_loop: \
	CMPQ	AX, DX; \
	JAE	copy_tail; \
	MOVOU	(SI)(AX*1), X0; \
	MOVOU	X0, (DI)(AX*1); \
	ADDQ	$16, AX; \
	JMP	copy_loop; \
copy_tail: \
	MOVOU	(SI)(DX*1), X0; \
	MOVOU	X0, (DI)(DX*1); \
	JMP	copy_done; \
copy_small: \
	CMPQ	CX, $8; \
	JB	copy_small4; \
	MOVQ	(SI), AX; \
	MOVQ	-8(SI)(CX*1), DX; \
	MOVQ	AX, (DI); \
	MOVQ	DX, -8(DI)(CX*1); \
	JMP	copy_done; \
copy_small4: \
	CMPQ	CX, $4; \
	JB	copy_small1; \
	MOVL	(SI), AX; \
	MOVL	-4(SI)(CX*1), DX; \
	MOVL	AX, (DI); \
	MOVL	DX, -4(DI)(CX*1); \
	JMP	copy_done; \
copy_small1: \
	TESTQ	CX, CX; \
	JEQ	copy_done; \
	MOVB	(SI), AX; \
	MOVB	AX, (DI); \
	MOVQ	CX, BX; \
	SHRQ	$1, BX; \
	MOVB	(SI)(BX*1), AX; \
	MOVB	AX, (DI)(BX*1); \
	MOVB	-1(SI)(CX*1), AX; \
	MOVB	AX, -1(DI)(CX*1); \
copy_done:

// func writeSlot(seq *uint64, n uint64, h *slotHeader, dst, src *byte, length uint64, t int64, fence bool)
// Write number n into slot header h and payload dst.
TEXT ·writeSlot(SB),NOSPLIT,$0-57
	MOVQ	seq+0(FP), R8
	MOVQ	n+8(FP), R9
	LEAQ	-1(R9)(R9*1), R10
	// Odd: write n in progress. TSO keeps every later store after it.
	MOVQ	R10, (R8)
	MOVQ	h+16(FP), R11
	MOVQ	length+40(FP), CX
	MOVQ	CX, 0(R11)
	MOVQ	t+48(FP), AX
	MOVQ	AX, 8(R11)
	MOVQ	R9, 16(R11)
	MOVQ	dst+24(FP), DI
	MOVQ	src+32(FP), SI
	// Copy the payload.
	COPY
	LEAQ	(R9)(R9*1), R10
	MOVBLZX	fence+56(FP), AX
	TESTQ	AX, AX
	JNE	fenced
	// Even: write n complete. A plain store is a release store under TSO.
	MOVQ	R10, (R8)
	RET
fenced:
	// Even, with a full fence: the caller's later load of the waiter count
	// must not pass this store, and no membarrier covers it.
	XCHGQ	R10, (R8)
	RET

// func readSlot(seq *uint64, slots *[2]slotRef, dst *byte, dstLen, capacity uint64) (s1, s2, n, t, num uint64)
// One read attempt. It copies only if the slot's length is within the
// capacity and dstLen; the caller validates with s1 and s2.
TEXT ·readSlot(SB),NOSPLIT,$0-80
	MOVQ	seq+0(FP), R8
	MOVQ	(R8), R9
	MOVQ	R9, s1+40(FP)
	MOVQ	R9, R10
	SHRQ	$1, R10
	ANDQ	$1, R10
	SHLQ	$4, R10
	MOVQ	slots+8(FP), R11
	MOVQ	0(R11)(R10*1), R12
	MOVQ	8(R11)(R10*1), SI
	MOVQ	0(R12), CX
	MOVQ	CX, n+56(FP)
	CMPQ	CX, capacity+32(FP)
	JA	nocopy
	CMPQ	CX, dstLen+24(FP)
	JA	nocopy
	MOVQ	dst+16(FP), DI
	// Copy the payload.
	COPY
nocopy:
	MOVQ	8(R12), AX
	MOVQ	AX, t+64(FP)
	MOVQ	16(R12), AX
	MOVQ	AX, num+72(FP)
	// TSO: the loads above are performed before this one.
	MOVQ	(R8), AX
	MOVQ	AX, s2+48(FP)
	RET
