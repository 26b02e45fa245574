# Stage 2, mesh: mesh each model once, on its own (gmsh is serial), save the mesh for
# the MPI run and keep the report (counts, quality, resolved frequency), so that a bad
# model stops here, before the MPI run.


rule mesh:
    input:
        "results/scenarios/{set}/{id}.yaml",
    output:
        report="results/meshes/{set}/{id}.txt",
        mesh="results/meshes/{set}/{id}.npz",
    params:
        # `python -m fem` initialises MPI (mpi4py). Under the Slurm plugin a one-task job runs in an
        # srun step whose PMI_FD the nested Snakemake closes; without PMI_FD MPICH starts a singleton.
        serial="env -u PMI_FD",
    conda:
        "../envs/pipeline.yaml"
    log:
        "results/logs/mesh/{set}/{id}.log",
    benchmark:
        "results/benchmarks/mesh/{set}/{id}.tsv"
    shell:
        "{params.serial} python -m fem mesh {input} --save {output.mesh} > {output.report}.part 2> {log}"
        " && mv {output.report}.part {output.report}"
