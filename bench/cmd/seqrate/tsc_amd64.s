#include "textflag.h"

// func ticks() uint64
// RDTSC, ordered after earlier instructions by LFENCE: the paced writer's
// clock for timing one Write (the monotonic clock of this VM moves in steps
// of about 10 ns).
TEXT ·ticks(SB),NOSPLIT,$0-8
	LFENCE
	RDTSC
	SHLQ	$32, DX
	ORQ	DX, AX
	MOVQ	AX, ret+0(FP)
	RET
