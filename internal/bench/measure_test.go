package bench

import "testing"

func TestShare(t *testing.T) {
	cases := []struct {
		n, rounds int
		want      []int
	}{
		{100, 5, []int{20, 20, 20, 20, 20}},
		{7, 5, []int{2, 2, 1, 1, 1}},
		{2, 5, []int{1, 1, 0, 0, 0}},
		{3, 1, []int{3}},
	}
	for _, c := range cases {
		total := 0
		for i, want := range c.want {
			if got := share(c.n, c.rounds, i); got != want {
				t.Errorf("share(%d, %d, %d) = %d, want %d", c.n, c.rounds, i, got, want)
			}
			total += want
		}
		if total != c.n {
			t.Errorf("shares of %d add up to %d", c.n, total)
		}
	}
}
