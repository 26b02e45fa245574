# Stage 6, evaluate: scores of the trained networks on the held-out test models
# (metrics.json) and the plots, both in results/evaluation/. surrogate.evaluate writes the
# boundary plots whenever an inverse network is trained (always: the config schema asks for
# one) and waveforms.png only where a forward network is trained, so that one is declared only then.

EVALUATION_PLOTS = ["boundary_errors.png", "boundary_maps.png"] + (
    ["waveforms.png"] if any(n in TRAIN["networks"] for n in ("forward", "forward_spatial")) else []
)


rule evaluate:
    input:
        store="results/dataset/store.h5",
        networks=expand("results/surrogate/{network}", network=TRAINED_NETWORKS),
        choice="results/surrogate/inverse.json",
    output:
        metrics="results/evaluation/metrics.json",
        plots=expand("results/evaluation/{plot}", plot=EVALUATION_PLOTS),
    params:
        model=lambda wildcards, input: os.path.dirname(input.networks[0]),
        out=lambda wildcards, output: os.path.dirname(output.metrics),
        tolerance=config["evaluate"]["tolerance_m"],
    conda:
        "../envs/pipeline.yaml"
    log:
        "results/logs/evaluate/evaluate.log",
    benchmark:
        "results/benchmarks/evaluate/evaluate.tsv"
    shell:
        "python -m surrogate evaluate --store {input.store} --model {params.model}"
        " --tolerance {params.tolerance} --out {params.out} > {log} 2>&1"
