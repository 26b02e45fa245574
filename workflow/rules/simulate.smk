# Stage 3, simulate: one result file per scenario, same layout whichever engine wrote it.
# The data set is always simulated with the FEM; the "new" models with config engine.

FEM_SETS = "data|new" if config["engine"] == "fem" else "data"


rule simulate_fem:
    input:
        scenario="results/scenarios/{set}/{id}.yaml",
        mesh="results/meshes/{set}/{id}.npz",
    output:
        "results/simulations/{set}/{id}.h5",
    wildcard_constraints:
        set=FEM_SETS,
    # One core per rank, so that `snakemake --cores 2` runs one 2-rank job at a time instead
    # of oversubscribing the cores (Snakemake scales it down to --cores where that is fewer;
    # the Slurm profile's cpus_per_task takes precedence on a cluster).
    threads: config["simulate"]["tasks"]
    resources:
        mpi=config["simulate"]["mpi"],
        tasks=config["simulate"]["tasks"],
        mem_mb_per_cpu=config["simulate"]["mem_mb_per_task"],
        runtime=config["simulate"]["runtime_min"],
    params:
        env=threads_env(1),
    conda:
        "../envs/pipeline.yaml"
    log:
        "results/logs/simulate/{set}/{id}.log",
    benchmark:
        "results/benchmarks/simulate/{set}/{id}.tsv"
    shell:
        "{params.env} {resources.mpi} -n {resources.tasks} python -m fem run {input.scenario}"
        " --mesh {input.mesh} -o {output} > {log} 2>&1"


if config["engine"] == "surrogate":

    rule simulate_surrogate:
        input:
            scenario="results/scenarios/{set}/{id}.yaml",
            network="results/surrogate/forward",
        output:
            "results/simulations/{set}/{id}.h5",
        wildcard_constraints:
            set="new",
        conda:
            "../envs/pipeline.yaml"
        log:
            "results/logs/simulate/{set}/{id}.log",
        benchmark:
            "results/benchmarks/simulate/{set}/{id}.tsv"
        shell:
            "python -m surrogate predict {input.scenario} --model results/surrogate -o {output} > {log} 2>&1"
