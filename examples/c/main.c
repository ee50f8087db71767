/* Call a chainrule function exported as a .crx artifact, from C.
 *
 * The artifact's native library exposes
 *     int chainrule_model(const void *const *inputs, void *const *outputs);
 * and its header (include/chainrule_model.h inside the .crx) documents the shapes and
 * dtypes of every input and output, also as tables (chainrule_model_inputs[],
 * chainrule_model_outputs[]) that this program walks, so it works for any function
 * exported under the name `model`.
 *
 * Inputs are filled with a fixed pattern (input k, element i: 0.5 * sin(0.1 * i + k)),
 * the function runs, and every output element is printed, one per line, after a line
 * `outJ N` naming the output and its element count. examples/export_and_c/ compares
 * this with the same call from Python.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_model.h"

static double pattern(size_t i, int k) { return 0.5 * sin(0.1 * (double)i + (double)k); }

static void fill(const chainrule_tensor_info *t, void *buf, int k) {
    for (size_t i = 0; i < t->size; i++) {
        double v = pattern(i, k);
        switch (t->dtype) {
        case CHAINRULE_FLOAT32: ((float *)buf)[i] = (float)v; break;
        case CHAINRULE_FLOAT64: ((double *)buf)[i] = v; break;
        case CHAINRULE_INT32: ((int32_t *)buf)[i] = (int32_t)(10 * v); break;
        case CHAINRULE_INT64: ((int64_t *)buf)[i] = (int64_t)(10 * v); break;
        case CHAINRULE_BOOL: ((uint8_t *)buf)[i] = v > 0; break;
        }
    }
}

static double element(const chainrule_tensor_info *t, const void *buf, size_t i) {
    switch (t->dtype) {
    case CHAINRULE_FLOAT32: return ((const float *)buf)[i];
    case CHAINRULE_FLOAT64: return ((const double *)buf)[i];
    case CHAINRULE_INT32: return ((const int32_t *)buf)[i];
    case CHAINRULE_INT64: return (double)((const int64_t *)buf)[i];
    case CHAINRULE_BOOL: return ((const uint8_t *)buf)[i];
    }
    return 0;
}

int main(void) {
    enum { NIN = CHAINRULE_MODEL_NUM_INPUTS, NOUT = CHAINRULE_MODEL_NUM_OUTPUTS };
    void *inputs[NIN > 0 ? NIN : 1];
    void *outputs[NOUT > 0 ? NOUT : 1];
    void *again[NOUT > 0 ? NOUT : 1];
    for (int k = 0; k < NIN; k++) {
        const chainrule_tensor_info *t = &chainrule_model_inputs[k];
        inputs[k] = malloc(t->nbytes ? t->nbytes : 1);
        if (!inputs[k]) return 2;
        fill(t, inputs[k], k);
    }
    for (int j = 0; j < NOUT; j++) {
        size_t n = chainrule_model_outputs[j].nbytes;
        outputs[j] = malloc(n ? n : 1);
        again[j] = malloc(n ? n : 1);
        if (!outputs[j] || !again[j]) return 2;
    }

    /* the simple entry point: it allocates its own workspace */
    if (chainrule_model((const void *const *)inputs, outputs) != 0) {
        fprintf(stderr, "chainrule_model failed\n");
        return 1;
    }
    /* the same with a caller-owned workspace gives the same bytes */
    void *ws = malloc(chainrule_model_workspace_size() + 1);
    if (!ws || chainrule_model_with_workspace((const void *const *)inputs, again, ws) != 0) return 1;
    for (int j = 0; j < NOUT; j++) {
        if (memcmp(outputs[j], again[j], chainrule_model_outputs[j].nbytes) != 0) {
            fprintf(stderr, "output %d differs between the two entry points\n", j);
            return 1;
        }
    }

    for (int j = 0; j < NOUT; j++) {
        const chainrule_tensor_info *t = &chainrule_model_outputs[j];
        printf("out%d %zu\n", j, t->size);
        for (size_t i = 0; i < t->size; i++) printf("%.9g\n", element(t, outputs[j], i));
    }
    for (int k = 0; k < NIN; k++) free(inputs[k]);
    for (int j = 0; j < NOUT; j++) { free(outputs[j]); free(again[j]); }
    free(ws);
    return 0;
}
