#include "textflag.h"

// func histWideRows(hist *histBin, bins *uint8, stride int, gh *gradPair, n int, nf int)
//
// For each of n rows (row k's bins at bins+k*stride, its gradient pair at
// gh+8k) and each of nf features j, adds the pair to the histBin at
// hist + (j*256 + bin)*16: the (g, h) float32 pair is widened to two
// float64 in one register and added to the slot's two float64 with one
// ADDPD, one 16-byte load and one 16-byte store per update. The additions
// and their order are those of the Go loop (one row after another).
TEXT ·histWideRows(SB), NOSPLIT, $0-48
	MOVQ hist+0(FP), DI
	MOVQ bins+8(FP), SI
	MOVQ stride+16(FP), R8
	MOVQ gh+24(FP), DX
	MOVQ n+32(FP), CX
	MOVQ nf+40(FP), R9
	TESTQ CX, CX
	JLE done
	TESTQ R9, R9
	JLE done

row:
	MOVSD (DX), X0
	CVTPS2PD X0, X0
	MOVQ SI, R10
	MOVQ DI, R11
	MOVQ R9, R12

four:
	CMPQ R12, $4
	JLT one
	MOVBQZX 0(R10), AX
	MOVBQZX 1(R10), BX
	SHLQ $4, AX
	SHLQ $4, BX
	MOVUPD 0(R11)(AX*1), X1
	MOVUPD 4096(R11)(BX*1), X2
	ADDPD X0, X1
	ADDPD X0, X2
	MOVUPD X1, 0(R11)(AX*1)
	MOVUPD X2, 4096(R11)(BX*1)
	MOVBQZX 2(R10), AX
	MOVBQZX 3(R10), BX
	SHLQ $4, AX
	SHLQ $4, BX
	MOVUPD 8192(R11)(AX*1), X1
	MOVUPD 12288(R11)(BX*1), X2
	ADDPD X0, X1
	ADDPD X0, X2
	MOVUPD X1, 8192(R11)(AX*1)
	MOVUPD X2, 12288(R11)(BX*1)
	ADDQ $4, R10
	ADDQ $16384, R11
	SUBQ $4, R12
	JMP four

one:
	TESTQ R12, R12
	JZ next
	MOVBQZX (R10), AX
	SHLQ $4, AX
	MOVUPD (R11)(AX*1), X1
	ADDPD X0, X1
	MOVUPD X1, (R11)(AX*1)
	INCQ R10
	ADDQ $4096, R11
	DECQ R12
	JMP one

next:
	ADDQ R8, SI
	ADDQ $8, DX
	DECQ CX
	JNZ row

done:
	RET

// func scatter4Rows(goLeft *uint8, srcR *uint32, srcW *uint64, dstR *uint32, dstW *uint64, n, l, r, spare, keepL, keepR int)
//
// scatter4's loop: row k goes to position d (l for a left row, r for a
// right one, each then advanced), its index to dstR[d], and its four
// words of bins to dstW[4*db:] with db = spare + (d-spare)&keep, keep
// being keepL or keepR by side (-1 to keep the row's bins, 0 to send
// them to the worker's spare row). Two 16-byte moves copy the words.
TEXT ·scatter4Rows(SB), NOSPLIT, $0-88
	MOVQ goLeft+0(FP), SI
	MOVQ srcR+8(FP), DI
	MOVQ srcW+16(FP), R8
	MOVQ dstR+24(FP), R9
	MOVQ dstW+32(FP), R10
	MOVQ n+40(FP), R13
	MOVQ l+48(FP), R11
	MOVQ r+56(FP), R12
	MOVQ spare+64(FP), BX
	TESTQ R13, R13
	JLE sdone

srow:
	MOVBQZX (SI), AX
	MOVL (DI), CX
	MOVQ R12, DX
	MOVQ keepR+80(FP), R15
	TESTQ AX, AX
	CMOVQNE R11, DX
	CMOVQNE keepL+72(FP), R15
	MOVL CX, (R9)(DX*4)
	ADDQ AX, R11
	XORQ $1, AX
	ADDQ AX, R12
	SUBQ BX, DX
	ANDQ R15, DX
	ADDQ BX, DX
	SHLQ $5, DX
	MOVOU (R8), X0
	MOVOU 16(R8), X1
	MOVOU X0, (R10)(DX*1)
	MOVOU X1, 16(R10)(DX*1)
	INCQ SI
	ADDQ $4, DI
	ADDQ $32, R8
	DECQ R13
	JNZ srow

sdone:
	RET
