//go:build !race && !purego

#include "go_asm.h"
#include "textflag.h"

// The whole of one write, and one read attempt, for a capacity of up to
// slotAsmMax bytes: no call to runtime.memmove, no compiler between the
// counter accesses and the copy, so the order of the instructions below is
// the order of the protocol. x86-TSO keeps stores in order and loads in
// order; docs/memory-model.md has the argument.

// COPY copies CX bytes from (SI) to (DI); its labels are local to the
// function it is used in, once per function. It clobbers AX, DX, X0 and X1.
// From 33 bytes up, 32-byte steps and then the last 32 bytes, which may
// overlap the step before; 16 to 32 bytes, the first and the last 16; below
// 16, two possibly overlapping moves of 8 or 4 bytes, or for 1 to 3 bytes
// the first, middle and last byte. Every byte is loaded before the bytes it
// overlaps are stored, and source and destination never overlap.
#define COPY \
	CMPQ	CX, $16; \
	JB	copy_lt16; \
	CMPQ	CX, $32; \
	JA	copy_gt32; \
	MOVOU	(SI), X0; \
	MOVOU	-16(SI)(CX*1), X1; \
	MOVOU	X0, (DI); \
	MOVOU	X1, -16(DI)(CX*1); \
	JMP	copy_done; \
copy_gt32: \
	LEAQ	-32(CX), DX; \
	XORQ	AX, AX; \
copy_loop: \
	MOVOU	(SI)(AX*1), X0; \
	MOVOU	16(SI)(AX*1), X1; \
	MOVOU	X0, (DI)(AX*1); \
	MOVOU	X1, 16(DI)(AX*1); \
	ADDQ	$32, AX; \
	CMPQ	AX, DX; \
	JB	copy_loop; \
	MOVOU	(SI)(DX*1), X0; \
	MOVOU	16(SI)(DX*1), X1; \
	MOVOU	X0, (DI)(DX*1); \
	MOVOU	X1, 16(DI)(DX*1); \
	JMP	copy_done; \
copy_lt16: \
	CMPQ	CX, $8; \
	JB	copy_lt8; \
	MOVQ	(SI), AX; \
	MOVQ	-8(SI)(CX*1), DX; \
	MOVQ	AX, (DI); \
	MOVQ	DX, -8(DI)(CX*1); \
	JMP	copy_done; \
copy_lt8: \
	CMPQ	CX, $4; \
	JB	copy_lt4; \
	MOVL	(SI), AX; \
	MOVL	-4(SI)(CX*1), DX; \
	MOVL	AX, (DI); \
	MOVL	DX, -4(DI)(CX*1); \
	JMP	copy_done; \
copy_lt4: \
	TESTQ	CX, CX; \
	JEQ	copy_done; \
	MOVB	(SI), AX; \
	MOVB	AX, (DI); \
	MOVQ	CX, DX; \
	SHRQ	$1, DX; \
	MOVB	(SI)(DX*1), AX; \
	MOVB	AX, (DI)(DX*1); \
	MOVB	-1(SI)(CX*1), AX; \
	MOVB	AX, -1(DI)(CX*1); \
copy_done:

// func writeValue(w *Writer, p []byte, t int64, stamp bool) (n uint64, err error)
// The whole of a write for a capacity of up to slotAsmMax bytes: check that p
// fits and that the slot holds what w left there, then write number w.next.
// Everything else jumps, with the arguments as they came, to a Go function
// of the same signature: writeSlow for stamped writes (stamp and w.stamp),
// large slots and refused values (it finds the same fault and reports it),
// writeWake after a write that found the waiter bit set, writeQuiet after
// the write that ends a fenced writer's quietWrites writes without one.
TEXT ·writeValue(SB),NOSPLIT,$0-72
	MOVQ	w+0(FP), R13
	CMPB	Writer_useAsm(R13), $0
	JEQ	slow
	CMPB	stamp+40(FP), $0
	JEQ	checks
	CMPB	Writer_stamp(R13), $0
	JNE	slow
checks:
	MOVQ	Writer_seq(R13), R8
	MOVQ	p_len+16(FP), CX
	CMPQ	CX, (Writer_g+geometry_capacity)(R13)
	JA	slow
	MOVQ	Writer_next(R13), R9
	MOVQ	R9, R10
	ANDQ	(Writer_slots+slots_mask)(R13), R10
	MOVQ	(Writer_slots+slots_hdr)(R13)(R10*8), R11
	// The slot must hold what this writer left there (Writer.last).
	MOVQ	slotHeader_seq(R11), AX
	CMPQ	AX, Writer_last(R13)(R10*8)
	JNE	slow
	LEAQ	const_slotHeaderSize(R11), DI
	// Odd counter, then odd slot word: write n in progress in slot
	// n&mask. TSO keeps every later store after them.
	LEAQ	-1(R9)(R9*1), R12
	MOVQ	R12, (R8)
	MOVQ	R12, slotHeader_seq(R11)
	MOVQ	CX, slotHeader_length(R11)
	MOVQ	t+32(FP), AX
	MOVQ	AX, slotHeader_time(R11)
	MOVQ	p_base+8(FP), SI
	// Copy the payload.
	COPY
	LEAQ	(R9)(R9*1), R12
	MOVQ	R12, Writer_last(R13)(R10*8)
	LEAQ	1(R9), AX
	MOVQ	AX, Writer_next(R13)
	// Even slot word: write n complete in its slot. A plain store is a
	// release store under TSO.
	MOVQ	R12, slotHeader_seq(R11)
	// Even: write n complete. Plain or fenced: Writer.commit, fence.go.
	CMPB	(Writer_commitFence+commitFence_fence)(R13), $0
	JNE	fenced
	// A plain store is a release store under TSO.
	MOVQ	R12, (R8)
	JMP	waiters
fenced:
	// Even, with a full fence: the waiter-word load below must not pass
	// this store, and no membarrier covers it.
	XCHGQ	R12, (R8)
waiters:
	MOVQ	Writer_waiters(R13), AX
	TESTQ	AX, AX
	JEQ	foreign
	TESTL	$const_waiterBit, (AX)
	JNE	wake
foreign:
	// The foreign waiter area (foreign_linux.go), if any.
	MOVQ	Writer_foreign(R13), AX
	TESTQ	AX, AX
	JEQ	done
	TESTL	$const_waiterBit, (AX)
	JNE	wake
done:
	// Writer.noWaiter, fence.go.
	CMPB	(Writer_commitFence+commitFence_fenced)(R13), $0
	JNE	quiet
ok:
	MOVQ	R9, n+48(FP)
	MOVQ	$0, err_itable+56(FP)
	MOVQ	$0, err_data+64(FP)
	RET
quiet:
	// Fenced because waiters slept recently: one more write without one.
	DECL	(Writer_commitFence+commitFence_quiet)(R13)
	JNE	ok
	JMP	·writeQuiet(SB)
wake:
	JMP	·writeWake(SB)
slow:
	JMP	·writeSlow(SB)

// func readValue(r *Reader, buf []byte) (m Meta, err error)
// Reader.Read for a capacity of up to slotAsmMax bytes and a complete value that
// fits in buf, read in at most readSmallLaps attempts. Every other case (no
// value yet, a short buffer, a slot that contradicts the header, a reader
// lapped readSmallLaps times, a large slot) jumps, with the arguments as they
// came, to readSlow.
TEXT ·readValue(SB),NOSPLIT,$0-72
	MOVQ	r+0(FP), R13
	CMPB	Reader_useAsm(R13), $0
	JEQ	slow
	MOVQ	Reader_seq(R13), R8
	MOVQ	$const_readSmallLaps, R12
retry:
	MOVQ	(R8), R9
	CMPQ	R9, $2
	JB	slow
	MOVQ	R9, R10
	SHRQ	$1, R10
	MOVQ	R10, AX
	ANDQ	(Reader_slots+slots_mask)(R13), AX
	MOVQ	(Reader_slots+slots_hdr)(R13)(AX*8), R11
	// The slot word must be 2m: below, the slot contradicts the counter
	// (readSlow reports it); above, write m+slotCount or a later one has
	// begun in the slot.
	LEAQ	(R10)(R10*1), DX
	MOVQ	slotHeader_seq(R11), BX
	CMPQ	BX, DX
	JB	slow
	JA	lapped
	LEAQ	const_slotHeaderSize(R11), SI
	MOVQ	slotHeader_length(R11), CX
	CMPQ	CX, (Reader_g+geometry_capacity)(R13)
	JA	slow
	CMPQ	CX, buf_len+16(FP)
	JA	slow
	MOVQ	buf_base+8(FP), DI
	// Copy the payload.
	COPY
	MOVQ	slotHeader_time(R11), SI
	// TSO: the loads above are performed before this one. Intact unless
	// the slot word changed (write m+slotCount began).
	CMPQ	BX, slotHeader_seq(R11)
	JNE	lapped
	MOVQ	CX, m_Len+32(FP)
	MOVQ	R10, m_Seq+40(FP)
	MOVQ	SI, m_UnixNano+48(FP)
	MOVQ	$0, err_itable+56(FP)
	MOVQ	$0, err_data+64(FP)
	RET
lapped:
	DECQ	R12
	JZ	slow
	// Back off before the next attempt: one PAUSE per lap so far, so
	// that a reader lapped again and again shifts its attempts against
	// the writer's rhythm instead of losing the same race at once, and
	// PAUSE keeps the loop from issuing loads of the writer's lines
	// meanwhile.
	MOVQ	$const_readSmallLaps, CX
	SUBQ	R12, CX
backoff:
	PAUSE
	DECQ	CX
	JNZ	backoff
	JMP	retry
slow:
	JMP	·readSlow(SB)

// func spinPause(n uint64)
// n PAUSE instructions: readSlow's back-off after a lap.
TEXT ·spinPause(SB),NOSPLIT,$0-8
	MOVQ	n+0(FP), CX
	TESTQ	CX, CX
	JZ	pause_done
pause_loop:
	PAUSE
	DECQ	CX
	JNZ	pause_loop
pause_done:
	RET
