// Package suggest measures how far a name someone typed is from the names kinflow knows, so that an unknown
// setting or query field can be answered with the one meant. Each caller keeps its own rule for what is close enough.
package suggest

// Distance is the Levenshtein distance of a and b in bytes: names here are ASCII (settings, document fields).
func Distance(a, b string) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
