# Stage 3, simulate: one result file per scenario, same layout whichever engine wrote it.
# The data set is always simulated with the FEM; the "new" models with config engine (fem,
# surrogate, or auto: the surrogate where its guard accepts the scenario, the FEM elsewhere).

FEM_SETS = ["data", "new"] if config["engine"] == "fem" else ["data"]
SIMULATE = config["simulate"]
# Results of the chunk jobs by content (workflow/scripts/simulate_chunk.py); not an output,
# so it outlives a job's rerun. The solver's source is part of every key.
SIMULATION_CACHE = "results/cache/simulate"
SOLVER_SOURCE = "fem hpc"

if CHUNK == 1:

    rule simulate_fem:
        input:
            scenario="results/scenarios/{set}/{id}.yaml",
            mesh="results/meshes/{set}/{id}.npz",
        output:
            "results/simulations/{set}/{id}.h5",
        wildcard_constraints:
            set="|".join(FEM_SETS),
        # One core per rank, so that `snakemake --cores 2` runs one 2-rank job at a time instead
        # of oversubscribing the cores (Snakemake scales it down to --cores where that is fewer;
        # the Slurm profile's cpus_per_task takes precedence on a cluster).
        threads: SIMULATE["tasks"]
        resources:
            **mpi_resources(SIMULATE),  # --ntasks=simulate.tasks (one rank included), see common.smk
            runtime=SIMULATE["runtime_min"],
        params:
            env=threads_env(1),
            mpirun=mpi_launch(SIMULATE),  # `srun -n TASKS` or `mpiexec -n TASKS`
        conda:
            "../envs/pipeline.yaml"
        log:
            "results/logs/simulate/{set}/{id}.log",
        benchmark:
            "results/benchmarks/simulate/{set}/{id}.tsv"
        shell:
            "{params.env} {params.mpirun} python -m fem run {input.scenario}"
            " --mesh {input.mesh} -o {output} > {log} 2>&1"

else:
    # K consecutive models of a set per MPI job: one `python -m fem run ... --output-dir` meshes
    # each in the process (no mesh jobs) and advances the models that share a mesh topology
    # together (fem.run_batch). Snakemake reruns a job whole when one of its scenarios changed;
    # the script restores the unchanged models from SIMULATION_CACHE, so only the changed one is
    # simulated. If any model fails the job fails, and Snakemake removes the chunk's outputs.
    # A job of K files needs a rule of its own (output patterns are fixed per rule):
    # simulate_chunk_FIRST_LAST; --set-resources simulate_chunk:... (the Slurm profile) reaches
    # them all through profile_resources.
    for set_name in FEM_SETS:
        for ids in chunks(set_name):

            rule:
                name:
                    f"simulate_chunk_{chunk_name(ids)}"
                input:
                    [f"results/scenarios/{set_name}/{i}.yaml" for i in ids],
                output:
                    [f"results/simulations/{set_name}/{i}.h5" for i in ids],
                threads: SIMULATE["tasks"]  # one core per rank, as simulate_fem
                resources:
                    **{
                        **mpi_resources(SIMULATE),  # as simulate_fem
                        # runtime_min is per model: a chunk may simulate all of its models
                        "runtime": SIMULATE["runtime_min"] * len(ids),
                        **profile_resources("simulate_chunk"),
                    },
                params:
                    env=threads_env(1),
                    mpirun=mpi_launch(SIMULATE),
                    cache=SIMULATION_CACHE,
                    solver=SOLVER_SOURCE,
                conda:
                    "../envs/pipeline.yaml"
                log:
                    f"results/logs/simulate/{set_name}/{chunk_name(ids)}.log",
                benchmark:
                    f"results/benchmarks/simulate/{set_name}/{chunk_name(ids)}.tsv"
                shell:
                    "{params.env} python workflow/scripts/simulate_chunk.py --scenarios {input} --outputs {output}"
                    " --cache {params.cache} --solver {params.solver}"
                    " -- {params.mpirun} python -m fem run --quiet > {log} 2>&1"


if config["engine"] == "surrogate":

    rule simulate_surrogate:
        input:
            scenario="results/scenarios/{set}/{id}.yaml",
            network=f"results/surrogate/{FORWARD_NETWORK}",
        output:
            "results/simulations/{set}/{id}.h5",
        wildcard_constraints:
            set="new",
        params:
            model=lambda wildcards, input: os.path.dirname(input.network),
        conda:
            "../envs/pipeline.yaml"
        log:
            "results/logs/simulate/{set}/{id}.log",
        benchmark:
            "results/benchmarks/simulate/{set}/{id}.tsv"
        shell:
            "python -m surrogate predict {input.scenario} --model {params.model} -o {output} > {log} 2>&1"


if config["engine"] == "auto":
    # `python -m surrogate check` asks the out-of-distribution guard (surrogate.predict.choose_engine):
    # exit 0 (the scenario's layer properties, source, sampling and geometry all inside the training
    # data): the surrogate predicts it; exit 3 (anything refused or flagged): the FEM runs it, meshing
    # in the process. Any other status is an error. The result's `engine` attribute says which ran.
    # The job holds the FEM's ranks either way (it cannot know beforehand which it needs).

    rule simulate_auto:
        input:
            scenario="results/scenarios/{set}/{id}.yaml",
            network=f"results/surrogate/{FORWARD_NETWORK}",
        output:
            "results/simulations/{set}/{id}.h5",
        wildcard_constraints:
            set="new",
        threads: SIMULATE["tasks"]
        resources:
            **mpi_resources(SIMULATE),  # --ntasks=simulate.tasks (one rank included), see common.smk
            runtime=SIMULATE["runtime_min"],
        params:
            env=threads_env(1),
            mpirun=mpi_launch(SIMULATE),  # `srun -n TASKS` or `mpiexec -n TASKS`
            model=lambda wildcards, input: os.path.dirname(input.network),
        conda:
            "../envs/pipeline.yaml"
        log:
            "results/logs/simulate/{set}/{id}.log",
        benchmark:
            "results/benchmarks/simulate/{set}/{id}.tsv"
        shell:
            "if python -m surrogate check {input.scenario} --model {params.model} > {log} 2>&1; then"
            " python -m surrogate predict {input.scenario} --model {params.model} -o {output} >> {log} 2>&1;"
            " else status=$?; [ $status -eq 3 ] || exit $status;"
            " {params.env} {params.mpirun} python -m fem run {input.scenario}"
            " -o {output} >> {log} 2>&1; fi"
