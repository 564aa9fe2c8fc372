"""The quality report of one method: per-concept diagnostics per layer, triage, and their figures."""

from amygdala_readout.corpus import read_story
from amygdala_readout.logs import job_logging
from amygdala_readout.model_io import layer_weight_names
from amygdala_readout.plots import cosine_heatmap, head_selectivity_plot
from amygdala_readout.quality import head_selectivity, layer_quality, quality_report, triage_table
from amygdala_readout.store import (
    atomic_write,
    fitting_set,
    load_directions,
    load_rows,
    read_layers,
    read_model_info,
    write_json,
    write_tsv,
)
from amygdala_readout.trainer_layout import seed_quality
from amygdala_readout.weights import read_layer_weights


def main(
    method, texts_path, concepts_path, layers_path, model_path, shard_paths, directions_path, out, read_at, corpus_dir
):
    texts = fitting_set(texts_path, concepts_path)
    layers = read_layers(layers_path)
    model_info = read_model_info(model_path)
    acts = load_rows(shard_paths, texts.text_ids, layers, part=read_at)
    fitted = load_directions(directions_path)

    # Only the target layers' down- and output-projection weights are read, not the model.
    names = layer_weight_names(model_info)
    weights = read_layer_weights(model_info.load_path, names, layers)
    notes = []
    head_layers = [layer for layer in layers if names.layers[layer]["o_proj"] is not None]
    if len(head_layers) < len(layers):
        notes.append(
            f"layers {sorted(set(layers) - set(head_layers))}: no recognisable attention output "
            "projection in this architecture; per-head analysis skipped"
        )
    if any(weights[layer]["down_proj"] is None for layer in layers):
        notes.append(
            "some layers have no single MLP down-projection (e.g. mixture-of-experts); neuron analysis skipped there"
        )
    head_inputs = load_rows(shard_paths, texts.text_ids, head_layers, part="head_inputs") if head_layers else {}

    per_layer, selectivity, directions = {}, {}, {}
    for layer in layers:
        directions[layer] = fitted.vectors[layer]
        heads = {}
        if layer in head_inputs:
            heads = {"head_inputs": head_inputs[layer], "o_proj": weights[layer]["o_proj"], "n_heads": names.n_heads}
            selectivity[layer], _ = head_selectivity(
                labels=texts.labels, concepts=texts.concepts, directions=directions[layer], **heads
            )
        per_layer[layer] = layer_quality(
            acts[layer],
            texts.labels,
            texts.sources,
            texts.concepts,
            directions[layer],
            fitted.centers[layer],
            down_proj=weights[layer]["down_proj"],
            eigenvalues=fitted.eigenvalues.get(layer),
            **heads,
        )
        log.info("layer %d: diagnostics of %d concepts", layer, len(texts.concepts))
    report = quality_report(per_layer, layers[len(layers) // 2], method, notes)
    write_json(out["report"], report)
    table = triage_table(report)
    write_tsv(out["triage"], table)
    log.info("triage: %s", table.triage.value_counts().to_dict())
    # the same report in the layout of the trainer we replace, in the package folder, for its users' scripts
    outliers = {o["source"] for entry in report["concepts"].values() for o in entry["outlier_stories"]}
    head_dims = {layer: (names.n_heads, head_inputs[layer].shape[1] // names.n_heads) for layer in head_layers}
    write_json(out["seed"], seed_quality(report, {s: read_story(corpus_dir, s) for s in outliers}, head_dims))
    title = f"{method}: cosine between concept directions"
    atomic_write(out["cosines"], lambda tmp: cosine_heatmap(directions, texts.concepts, tmp, title))
    title = f"{method}: per-head selectivity, top concepts"
    atomic_write(out["heads"], lambda tmp: head_selectivity_plot(selectivity, texts.concepts, tmp, title))


with job_logging(snakemake.log[0]) as log:
    main(
        snakemake.wildcards.method,
        snakemake.input.texts,
        snakemake.input.concepts,
        snakemake.input.layers,
        snakemake.input.model,
        list(snakemake.input.shards),
        snakemake.input.directions,
        dict(snakemake.output.items()),
        snakemake.params.read_at,
        snakemake.params.corpus_dir,
    )
