# Stage 5b, select: the inverse estimator that evaluate and invert use (one network, or the
# mean of all trained inverse networks), chosen on the validation split; written beside the
# networks as results/surrogate/inverse.json.


rule select:
    input:
        store="results/dataset/store.h5",
        networks=expand("results/surrogate/{network}", network=INVERSE_MEMBERS),
    output:
        "results/surrogate/inverse.json",
    params:
        model=lambda wildcards, input: os.path.dirname(input.networks[0]),
    conda:
        "../envs/pipeline.yaml"
    log:
        "results/logs/select/select.log",
    benchmark:
        "results/benchmarks/select/select.tsv"
    shell:
        "python -m surrogate select --store {input.store} --model {params.model} > {log} 2>&1"
