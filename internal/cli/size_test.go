package cli

import "testing"

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int // 0: an error
	}{
		{"1", 1}, {"4096", 4096}, {"64KiB", 64 << 10}, {"64kib", 64 << 10}, {"64K", 64 << 10},
		{"1MiB", 1 << 20}, {"1M", 1 << 20}, {"2GiB", 2 << 30}, {"100B", 100},
		{"1TiB", 1 << 40}, {"1T", 1 << 40}, {"1tib", 1 << 40}, {"2TiB", 2 << 40},
		{"0", 0}, {"-1", 0}, {"", 0}, {"KiB", 0}, {"1KB", 0}, {"1.5MiB", 0}, {"1 KiB", 0},
		{"99999999999999999999", 0}, {"9000000000000000GiB", 0},
	} {
		got, err := ParseSize(tt.in)
		if got != tt.want || (err != nil) != (tt.want == 0) {
			t.Errorf("ParseSize(%q) = %d, %v, want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for _, tt := range []struct {
		in   int
		want string
	}{
		{1, "1"}, {1000, "1000"}, {4096, "4KiB"}, {1 << 20, "1MiB"}, {3 << 30, "3GiB"}, {1<<20 + 1024, "1025KiB"},
	} {
		if got := FormatSize(tt.in); got != tt.want {
			t.Errorf("FormatSize(%d) = %q, want %q", tt.in, got, tt.want)
		}
		if back, err := ParseSize(tt.want); back != tt.in || err != nil {
			t.Errorf("ParseSize(FormatSize(%d)) = %d, %v", tt.in, back, err)
		}
	}
}
