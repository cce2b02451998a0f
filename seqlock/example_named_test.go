package seqlock_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/seqshm/seqshm/seqlock"
)

// useTempDir points the segment directory at a new temporary directory, as
// SEQSHM_DIR does for the tools, and returns a function that removes it.
func useTempDir() func() {
	dir, err := os.MkdirTemp("", "seqshm-example-")
	if err != nil {
		panic(err)
	}
	old, had := os.LookupEnv("SEQSHM_DIR")
	os.Setenv("SEQSHM_DIR", dir)
	return func() {
		if had {
			os.Setenv("SEQSHM_DIR", old)
		} else {
			os.Unsetenv("SEQSHM_DIR")
		}
		os.RemoveAll(dir)
	}
}

// The happy path: one process publishes, any other reads the newest value.
func ExampleCreate() {
	defer useTempDir()()

	pub, err := seqlock.Create("imu", nil)
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	pub.Publish([]byte("ax=0.01 ay=-0.02 az=9.81"))

	sub, err := seqlock.Open("imu", nil)
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	value, m, err := sub.ReadValue(nil)
	fmt.Printf("%s (write %d), %v\n", value, m.Seq, err)
	// Output: ax=0.01 ay=-0.02 az=9.81 (write 1), <nil>
}

// A subscriber blocks in Wait until something newer than what it has is
// published; it uses no CPU meanwhile.
func ExampleSubscriber_Wait() {
	defer useTempDir()()

	pub, err := seqlock.Create("clock", nil)
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	sub, err := seqlock.Open("clock", nil)
	if err != nil {
		panic(err)
	}
	defer sub.Close()

	published := make(chan struct{})
	go func() { // another process, in real life
		defer close(published)
		time.Sleep(10 * time.Millisecond)
		pub.Publish([]byte("tick"))
	}()
	defer func() { <-published }() // before pub.Close: a Publisher is one goroutine's
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seq, err := sub.Wait(ctx, 0) // wait for the first value
	value, _, _ := sub.ReadValue(nil)
	fmt.Println(seq, string(value), err)
	// Output: 1 tick <nil>
}

// A typed segment keeps its struct's schema, so that a subscriber (or any
// tool) can decode a value by field name without the Go type.
func ExampleCreateTyped() {
	defer useTempDir()()

	type Pose struct {
		X   float64 `seqshm:"x,unit=m"`
		Y   float64 `seqshm:"y,unit=m"`
		Yaw float64 `seqshm:"yaw,unit=rad"`
	}
	pub, err := seqlock.CreateTyped[Pose]("pose", nil)
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	pub.Publish(Pose{X: 1, Y: 2, Yaw: 0.5})

	typed, _ := seqlock.OpenTyped[Pose]("pose", nil)
	defer typed.Close()
	p, _, _ := typed.Read()
	fmt.Printf("%+v\n", p)

	sub, _ := seqlock.Open("pose", nil)
	defer sub.Close()
	value, _, _ := sub.ReadValue(nil)
	text, _ := sub.Schema().AppendLogfmt(nil, value)
	fmt.Println(sub.Schema())
	fmt.Println(string(text))
	// Output:
	// {X:1 Y:2 Yaw:0.5}
	// float64 x [m]; float64 y [m]; float64 yaw [rad]
	// x=1 y=2 yaw=0.5
}
