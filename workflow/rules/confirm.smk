# Stage 7b, confirm: each estimate as a scenario (the observed one with the estimated boundaries
# as control grids, surrogate.confirm), one FEM run of it, and the misfit between the observed
# records and the FEM's (relative L2 per component, GOF, boundary error) in results/confirm/ID.json.
# An estimate that is no valid model (boundaries crossing or too thin: `surrogate confirm` exits 2
# with the reason) gets no FEM run: the JSON records the refusal and the boundary error, and the
# report shows it. Any other failure fails the job. The scenario and the FEM's result file stay
# beside the JSON (results/confirm/ID.yaml, ID.h5) for a closer look; no rule reads them.


rule confirm:
    input:
        observed="results/simulations/new/{id}.h5",
        estimate="results/inversion/{id}.h5",
    output:
        "results/confirm/{id}.json",
    threads: SIMULATE["tasks"]  # one core per rank, as simulate_fem
    resources:
        **mpi_resources(SIMULATE),  # as simulate_fem (common.smk)
        runtime=SIMULATE["runtime_min"],
    params:
        env=threads_env(1),
        mpirun=mpi_launch(SIMULATE),
        stem=lambda wildcards, output: os.path.splitext(output[0])[0],  # ID.yaml and ID.h5 beside ID.json
        tolerance=config["evaluate"]["tolerance_m"],
    conda:
        "../envs/pipeline.yaml"
    log:
        "results/logs/confirm/{id}.log",
    benchmark:
        "results/benchmarks/confirm/{id}.tsv"
    shell:
        "status=0; python -m surrogate confirm {input.observed} {input.estimate} -o {params.stem}.yaml > {log} 2>&1"
        " || status=$?;"
        " if [ $status -eq 0 ]; then"
        "   {params.env} {params.mpirun} python -m fem run {params.stem}.yaml"
        "   -o {params.stem}.h5 >> {log} 2>&1"
        "   && python -m surrogate misfit {input.observed} {params.stem}.h5 --estimate {input.estimate}"
        "   --tolerance {params.tolerance} -o {output} >> {log} 2>&1;"
        " elif [ $status -eq 2 ]; then"
        '   python -m surrogate misfit {input.observed} --refused "$(tail -n 1 {log})" --estimate {input.estimate}'
        "   --tolerance {params.tolerance} -o {output} >> {log} 2>&1;"
        " else exit $status; fi"
