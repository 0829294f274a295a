/** Notebook texts shared by the format, serializer and command-line tests. */

/** A canonical file, written by hand: parsing and writing it again must give these bytes. */
export const CANONICAL = `{
  "cells": [
    {
      "cell_type": "markdown",
      "id": "intro",
      "metadata": {},
      "source": [
        "# Transfer\\n",
        "\\n",
        "Which layers *transfer*?"
      ]
    },
    {
      "cell_type": "code",
      "execution_count": 3,
      "id": "run",
      "metadata": {
        "tags": [
          "slow"
        ]
      },
      "outputs": [
        {
          "name": "stdout",
          "output_type": "stream",
          "text": [
            "epoch 1\\n",
            "epoch 2\\n"
          ]
        },
        {
          "data": {
            "application/vnd.transferlab.cka+json": {
              "columns": [
                "conv1"
              ],
              "debiased": false,
              "kind": "linear",
              "rows": [
                "conv1"
              ],
              "values": [
                [
                  1
                ]
              ]
            },
            "image/png": "iVBORw0KGgo=",
            "text/plain": [
              "CKA 1×1\\n",
              "conv1 1.000"
            ]
          },
          "execution_count": 3,
          "metadata": {},
          "output_type": "execute_result"
        },
        {
          "ename": "TypeError",
          "evalue": "x is not a function",
          "output_type": "error",
          "traceback": [
            "TypeError: x is not a function",
            "    at cell 2:1:1"
          ]
        }
      ],
      "source": [
        "const r = tl.cka(a, b);\\n",
        "r"
      ]
    },
    {
      "cell_type": "code",
      "execution_count": null,
      "metadata": {},
      "outputs": [],
      "source": []
    }
  ],
  "metadata": {
    "backend": "wasm",
    "format_version": 1,
    "kernel": {
      "display_name": "TransferLab (TypeScript)",
      "language": "typescript",
      "name": "transferlab"
    }
  }
}
`;
