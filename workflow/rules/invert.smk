# Stage 7, invert: layer boundaries beneath each station of the "new" models, from their
# surface recordings, with the inverse estimator chosen by `select`.


rule invert:
    input:
        observed="results/simulations/new/{id}.h5",
        networks=expand("results/surrogate/{network}", network=INVERSE_MEMBERS),
        choice="results/surrogate/inverse.json",
    output:
        "results/inversion/{id}.h5",
    params:
        model=lambda wildcards, input: os.path.dirname(input.networks[0]),
    conda:
        "../envs/pipeline.yaml"
    log:
        "results/logs/invert/{id}.log",
    benchmark:
        "results/benchmarks/invert/{id}.tsv"
    shell:
        "python -m surrogate invert {input.observed} --model {params.model} -o {output} > {log} 2>&1"
