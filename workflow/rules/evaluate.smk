# Stage 6, evaluate: scores of the trained networks on the held-out test models
# (metrics.json) and the plots, both in results/evaluation/.


rule evaluate:
    input:
        store="results/dataset/store.h5",
        networks=expand("results/surrogate/{network}", network=TRAIN["networks"]),
        choice="results/surrogate/inverse.json",
    output:
        metrics="results/evaluation/metrics.json",
    params:
        model=lambda wildcards, input: os.path.dirname(input.networks[0]),
        tolerance=config["evaluate"]["tolerance_m"],
    conda:
        "../envs/pipeline.yaml"
    log:
        "results/logs/evaluate/evaluate.log",
    benchmark:
        "results/benchmarks/evaluate/evaluate.tsv"
    shell:
        "python -m surrogate evaluate --store {input.store} --model {params.model}"
        " --tolerance {params.tolerance} --out results/evaluation > {log} 2>&1"
