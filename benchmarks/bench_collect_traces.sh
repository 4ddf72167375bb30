#!/usr/bin/env bash
# Collect the real ResNet-50 / ONNX Runtime CPU traces shipped in traces/ (see each PROVENANCE.md).
# Durations are shortened from MLPerf's 600 s; each run's summary says so (INVALID where the
# short run cannot meet early stopping or the 15 ms Server bound).
set -euo pipefail
OUT=${1:-traces}
SB=${SIMBENCH:-simbench}
R=$OUT/resnet50_ort_cpu
$SB benchmark --sut onnx:resnet50 --scenario SingleStream --min-duration-s 30 --threads 2 --out $R
$SB benchmark --sut onnx:resnet50 --scenario MultiStream --min-duration-s 30 --min-query-count 16 --threads 2 --batching 8 --out $R
$SB benchmark --sut onnx:resnet50 --scenario Server --target-qps 8 --min-duration-s 60 --threads 1 --workers 2 --out $R
$SB benchmark --sut onnx:resnet50 --scenario Offline --min-duration-s 10 --min-query-count 256 --threads 1 --workers 2 --batching 8 --out $R
for b in 1 2 4 8 16 32 64; do
  $SB benchmark --sut onnx:resnet50 --scenario Offline --min-duration-s 5 --min-query-count 256 --threads 2 --workers 1 --batching $b \
    --out $OUT/resnet50_ort_cpu_offline_batch_sweep/batch_$b
done
