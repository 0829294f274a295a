"""The Jupyter project's kernel conformance suite (jupyter_kernel_test) against the transferlab kernelspec."""
import unittest
import jupyter_kernel_test


class TransferLabKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "transferlab"
    language_name = "typescript"
    file_extension = ".ts"

    code_hello_world = 'console.log("hello, world")'
    code_stderr = 'console.error("something went wrong")'

    completion_samples = [
        {"text": "Math.cei", "matches": {"ceil"}},
        {"text": "const longVariableName = 1; longVariableN", "matches": {"longVariableName"}},
    ]

    complete_code_samples = ["1 + 1", "const a = 1;", "function f() { return 1 }"]
    incomplete_code_samples = ["function f() {", "const s = `abc", "if (true) {\n  console.log(1)"]
    invalid_code_samples = ["1 +* 2", "const = 5", "let x = );"]

    code_generate_error = 'throw new Error("boom")'

    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": "'a' + 'b'", "result": "'ab'"},
        {"code": "[1, 2, 3].map((x: number) => x * 2)", "result": "[ 2, 4, 6 ]"},
    ]

    code_display_data = [
        {"code": 'display.html("<b>bold</b>")', "mime": "text/html"},
        {"code": 'display.markdown("# title")', "mime": "text/markdown"},
        {"code": "display.vegaLite({ mark: 'bar', data: { values: [{ a: 1 }] }, encoding: { x: { field: 'a', type: 'quantitative' } } })", "mime": "application/vnd.vegalite.v5+json"},
    ]

    code_history_pattern = "6 * 7"
    supported_history_operations = ("tail", "range", "search")

    code_inspect_sample = "Math.max"

    code_clear_output = "clearOutput()"


if __name__ == "__main__":
    unittest.main()
