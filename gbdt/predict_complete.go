package gbdt

import (
	"math"
	"unsafe"
)

// The complete layout serves models whose trees are at most
// maxCompleteDepth deep and that split on at most maxCompleteFeatures
// features; other models take the linked layout of predict.go.
//
// Each group of eight trees is one implicit complete binary tree, eight
// subtrees hung from slots 8..15 of a heap: the children of slot i are
// 2i (left) and 2i+1 (right), so a step is i = 2i + right with no child
// index to load, and a node is only its cut and feature (five bytes,
// against the linked layout's sixteen). A tree shallower than its group is
// padded to the group's depth by copying each leaf into both subtrees
// below it.
//
// Thresholds are compared as integers: orderKey maps float32 to uint32 so
// that x < t exactly when orderKey(x) <= cutKey(t), for every x and t that
// are not NaN. A row's keys are computed once, and then a step is three
// loads, a subtraction, a shift and an add, all on the integer side: a
// shorter chain of dependent operations than loading a float32 and
// comparing it, and the walk of eight interleaved trees waits on that
// chain more than on the number of instructions.
//
// Missing values cost the walk nothing: for a row with one, each feature
// has two keys, one read by the nodes that send a missing value right and
// one by those that send it left (such a row reads a second copy of the
// feature bytes, 2*feature+defaultLeft). For a value that is present both
// keys are its orderKey; for a missing one they are above and below every
// cut.
const (
	maxCompleteDepth    = 8
	maxCompleteFeatures = 128
	// maxCompleteBytesPerNode bounds the layout's size against the
	// model's (a full tree of depth 6 takes about 5 bytes a node).
	maxCompleteBytesPerNode = 64
)

// complete is the complete layout of a forest.
type complete struct {
	// cut[s] is orderKey(threshold)-1 at internal slot s, so a row goes
	// right exactly when its key minus cut[s] is positive. Group g owns
	// cut[groups[g].cut:][:16<<depth]: slots 8<<depth and up hold the
	// leaf values (as float32 bits) where the walks end; slots 0..7 are
	// unused.
	cut []uint32
	// feature[s] is the split feature of internal slot s; group g owns
	// feature[groups[g].feature:][:8<<depth]. featureMissing[s] is
	// 2*feature+defaultLeft, for rows with missing values.
	feature, featureMissing []uint8
	groups                  []completeGroup
}

type completeGroup struct {
	cut, feature int
	depth        int32
}

// orderKey maps a float32 that is not NaN to a uint32 of the same order:
// x < t implies orderKey(x) < orderKey(t). Negative floats order backwards
// in their bits, so it flips them all, and it sets the sign bit of the
// others to put them above. The two zeros stay apart (orderKey(-0) is
// orderKey(+0)-1), which cutKey allows for. The result is at least
// orderKey(-Inf) = 0x7fffff.
func orderKey(v float32) uint32 {
	b := math.Float32bits(v)
	return b ^ (uint32(int32(b)>>31) | 1<<31)
}

// cutKey is the cut for threshold t: x >= t exactly when orderKey(x) >
// cutKey(t), for every x that is not NaN. A zero threshold takes -0's key,
// so both zeros of x go right of it, as -0 >= 0 in float comparison.
func cutKey(t float32) uint32 {
	if t == 0 {
		return orderKey(float32(math.Copysign(0, -1))) - 1
	}
	return orderKey(t) - 1
}

// compileComplete returns the complete layout of b's trees, grouped as in
// f, or nil if b does not fit it.
func compileComplete(b *Booster, f *forest) *complete {
	if b.NumFeature > maxCompleteFeatures {
		return nil
	}
	// A group costs 20<<depth words whatever its trees hold, so a model of
	// deep, sparse trees (a chain of 8 splits among single leaves, say)
	// would take hundreds of bytes per node: such models keep the linked
	// layout, and a hostile file cannot make this one allocate gigabytes.
	cuts, nodes := 0, 0
	for _, d := range f.groupSteps {
		if d > maxCompleteDepth {
			return nil
		}
		cuts += 16 << d
	}
	for ti := range b.Trees {
		nodes += len(b.Trees[ti].Left)
	}
	if bytes := 6 * cuts; bytes > maxCompleteBytesPerNode*nodes+1<<20 {
		return nil
	}
	c := &complete{cut: make([]uint32, 0, cuts), feature: make([]uint8, 0, cuts/2), featureMissing: make([]uint8, 0, cuts/2)}
	for g, d := range f.groupSteps {
		c.groups = append(c.groups, completeGroup{cut: len(c.cut), feature: len(c.feature), depth: d})
		c.cut = append(c.cut, make([]uint32, 16<<d)...)
		c.feature = append(c.feature, make([]uint8, 8<<d)...)
		c.featureMissing = append(c.featureMissing, make([]uint8, 8<<d)...)
		// The last group's padding trees add -0 to the sum, which leaves
		// every float32 as it is (+0 would turn a -0 sum into +0).
		leaves := c.cut[c.groups[g].cut+8<<d:]
		for t := min(len(b.Trees)-g*group, group); t < group; t++ {
			for i := range 1 << d {
				leaves[t<<d+i] = math.Float32bits(float32(math.Copysign(0, -1)))
			}
		}
	}
	for ti := range b.Trees {
		g := c.groups[ti/group]
		c.fill(&b.Trees[ti], g.cut, g.feature, g.depth, group+ti%group, 0, 0)
	}
	return c
}

// fill lays out the subtree of t at node i in the group at cut and feature,
// at slot s of level level.
func (c *complete) fill(t *Tree, cut, feature int, depth int32, s int, level int32, i int32) {
	if level == depth {
		c.cut[cut+s] = math.Float32bits(t.SplitCond[i])
		return
	}
	l, r := i, i
	if t.Left[i] >= 0 {
		c.cut[cut+s] = cutKey(t.SplitCond[i])
		c.feature[feature+s] = uint8(t.SplitIndex[i])
		c.featureMissing[feature+s] = 2 * uint8(t.SplitIndex[i])
		if t.DefaultLeft[i] {
			c.featureMissing[feature+s]++
		}
		l, r = t.Left[i], t.Right[i]
	}
	// A leaf above the group's depth: cut 0 sends every row right, to one
	// of the copies of the leaf.
	c.fill(t, cut, feature, depth, 2*s, level+1, l)
	c.fill(t, cut, feature, depth, 2*s+1, level+1, r)
}

// margin adds the trees' leaves for row x (its first NumFeature values) to
// sum. A NaN in x is a missing value.
func (c *complete) margin(sum float32, x []float32) float32 {
	// The keys live on the stack; a small array for the usual number of
	// features keeps its zeroing cheap.
	if len(x) <= 32 {
		var keys [2 * 32]uint64
		return c.marginKeys(sum, x, keys[:2*len(x)])
	}
	var keys [2 * maxCompleteFeatures]uint64
	return c.marginKeys(sum, x, keys[:2*len(x)])
}

// marginKeys is margin with room for two keys per feature.
func (c *complete) marginKeys(sum float32, x []float32, keys []uint64) float32 {
	missing := false
	for i, v := range x[:len(keys)/2] {
		if v != v {
			missing = true
			break
		}
		keys[i] = uint64(orderKey(v))
	}
	features := c.feature
	if missing {
		features = c.featureMissing
		for i, v := range x[:len(keys)/2] {
			k := uint64(orderKey(v))
			right, left := k, k
			if v != v {
				right, left = 1<<32, 0
			}
			keys[2*i], keys[2*i+1] = right, left
		}
	}
	kp := unsafe.Pointer(unsafe.SliceData(keys))
	for _, g := range c.groups {
		cp, fp := unsafe.Pointer(&c.cut[g.cut]), unsafe.Pointer(&features[g.feature])
		if g.depth == 6 {
			sum = walk6(cp, fp, kp, sum)
			continue
		}
		var at [group]uintptr
		walk(cp, fp, kp, g.depth, &at)
		for _, i := range at {
			sum += leaf(cp, i)
		}
	}
	return sum
}

// step takes one step from slot i for the row whose keys are at kp. It
// reads memory without bounds checks: compileComplete made every slot a
// walk can reach, and every feature is below the number of keys.
func step(cp, fp unsafe.Pointer, i uintptr, kp unsafe.Pointer) uintptr {
	cut := uint64(*(*uint32)(unsafe.Add(cp, i*4)))
	key := *(*uint64)(unsafe.Add(kp, uintptr(*(*uint8)(unsafe.Add(fp, i)))*8))
	// Both are below 2^32, so the difference is negative (bit 63 set)
	// exactly when key > cut, that is when x >= threshold: go right.
	return 2*i + uintptr((cut-key)>>63)
}

// walk walks the eight trees of a group of depth d and leaves the slots
// they end at in at. Storing each level's slots also keeps the compiler's
// scheduler from moving every chain's last add to the end of the loop body,
// which would need more registers than amd64 has.
func walk(cp, fp, kp unsafe.Pointer, d int32, at *[group]uintptr) {
	var i0, i1, i2, i3, i4, i5, i6, i7 uintptr = 8, 9, 10, 11, 12, 13, 14, 15
	*at = [group]uintptr{i0, i1, i2, i3, i4, i5, i6, i7}
	for ; d > 0; d-- {
		i0, i1, i2, i3 = step(cp, fp, i0, kp), step(cp, fp, i1, kp), step(cp, fp, i2, kp), step(cp, fp, i3, kp)
		i4, i5, i6, i7 = step(cp, fp, i4, kp), step(cp, fp, i5, kp), step(cp, fp, i6, kp), step(cp, fp, i7, kp)
		at[0], at[1], at[2], at[3], at[4], at[5], at[6], at[7] = i0, i1, i2, i3, i4, i5, i6, i7
	}
}

// walk6 is walk for a group of depth 6, XGBoost's and Lift's default,
// written out in one basic block (about a tenth faster than the loop), and
// adding the leaves to sum in tree order.
func walk6(cp, fp, kp unsafe.Pointer, sum float32) float32 {
	var i0, i1, i2, i3, i4, i5, i6, i7 uintptr = 8, 9, 10, 11, 12, 13, 14, 15
	i0, i1, i2, i3, i4, i5, i6, i7 = step(cp, fp, i0, kp), step(cp, fp, i1, kp), step(cp, fp, i2, kp), step(cp, fp, i3, kp), step(cp, fp, i4, kp), step(cp, fp, i5, kp), step(cp, fp, i6, kp), step(cp, fp, i7, kp)
	i0, i1, i2, i3, i4, i5, i6, i7 = step(cp, fp, i0, kp), step(cp, fp, i1, kp), step(cp, fp, i2, kp), step(cp, fp, i3, kp), step(cp, fp, i4, kp), step(cp, fp, i5, kp), step(cp, fp, i6, kp), step(cp, fp, i7, kp)
	i0, i1, i2, i3, i4, i5, i6, i7 = step(cp, fp, i0, kp), step(cp, fp, i1, kp), step(cp, fp, i2, kp), step(cp, fp, i3, kp), step(cp, fp, i4, kp), step(cp, fp, i5, kp), step(cp, fp, i6, kp), step(cp, fp, i7, kp)
	i0, i1, i2, i3, i4, i5, i6, i7 = step(cp, fp, i0, kp), step(cp, fp, i1, kp), step(cp, fp, i2, kp), step(cp, fp, i3, kp), step(cp, fp, i4, kp), step(cp, fp, i5, kp), step(cp, fp, i6, kp), step(cp, fp, i7, kp)
	i0, i1, i2, i3, i4, i5, i6, i7 = step(cp, fp, i0, kp), step(cp, fp, i1, kp), step(cp, fp, i2, kp), step(cp, fp, i3, kp), step(cp, fp, i4, kp), step(cp, fp, i5, kp), step(cp, fp, i6, kp), step(cp, fp, i7, kp)
	i0, i1, i2, i3, i4, i5, i6, i7 = step(cp, fp, i0, kp), step(cp, fp, i1, kp), step(cp, fp, i2, kp), step(cp, fp, i3, kp), step(cp, fp, i4, kp), step(cp, fp, i5, kp), step(cp, fp, i6, kp), step(cp, fp, i7, kp)
	return sum + leaf(cp, i0) + leaf(cp, i1) + leaf(cp, i2) + leaf(cp, i3) + leaf(cp, i4) + leaf(cp, i5) + leaf(cp, i6) + leaf(cp, i7)
}

// leaf is the leaf value at slot i, where a walk ended.
func leaf(cp unsafe.Pointer, i uintptr) float32 {
	return *(*float32)(unsafe.Add(cp, i*4))
}
