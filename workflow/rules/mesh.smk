# Stage 2, mesh: mesh each model once, on its own, and keep the report (counts,
# quality, resolved frequency) so that a bad model stops here, before the MPI run.


rule mesh:
    input:
        "results/scenarios/{set}/{id}.yaml",
    output:
        "results/meshes/{set}/{id}.txt",
    conda:
        "../envs/pipeline.yaml"
    log:
        "results/logs/mesh/{set}/{id}.log",
    benchmark:
        "results/benchmarks/mesh/{set}/{id}.tsv"
    shell:
        "python -m fem mesh {input} > {output}.part 2> {log} && mv {output}.part {output}"
