// Command kstatus prints what kstatus (sigs.k8s.io/cli-utils, the library Flux uses for
// health checks and `wait`) computes for Kubernetes objects, so tests/flux_kstatus.rs can check
// that the operator's conditions read the way Flux reads them.
//
// It reads one JSON or YAML object, or a list (`kind: List` with `items`, as `kubectl get -o
// json` prints for several objects), on stdin and prints `name<TAB>status<TAB>message` per
// object, in input order.
package main

import (
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	input, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	// JSON is YAML too; this turns either into JSON.
	data, err := yaml.YAMLToJSON(input)
	if err != nil {
		return fmt.Errorf("parsing the input: %w", err)
	}
	// This JSON decoder keeps whole numbers as int64, as the apiserver's clients do; kstatus
	// reads metadata.generation and status.observedGeneration as integers.
	var object map[string]interface{}
	if err := utiljson.Unmarshal(data, &object); err != nil {
		return fmt.Errorf("decoding the input: %w", err)
	}
	if object == nil {
		return fmt.Errorf("the input is not an object")
	}
	objects := []map[string]interface{}{object}
	if items, ok := object["items"].([]interface{}); ok {
		objects = objects[:0]
		for i, item := range items {
			m, ok := item.(map[string]interface{})
			if !ok {
				return fmt.Errorf("items[%d] is not an object", i)
			}
			objects = append(objects, m)
		}
	}
	for _, o := range objects {
		u := &unstructured.Unstructured{Object: o}
		result, err := status.Compute(u)
		if err != nil {
			return fmt.Errorf("%s: %w", u.GetName(), err)
		}
		fmt.Fprintf(out, "%s\t%s\t%s\n", u.GetName(), result.Status, result.Message)
	}
	return nil
}
