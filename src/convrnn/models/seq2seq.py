"""An encoder–decoder with attention (Cho et al., 2014; Bahdanau et al., 2015; Luong et al., 2015):
"read English, output French" — here, read a spelling, output its sounds.

Letters: N batch, S source steps, T target steps, E embedding size, H encoder units per direction,
D = 2 if the encoder is bidirectional else 1, H_d decoder units, V_s and V_t the source and target
vocabulary sizes, B beams.

    model = Seq2Seq(source_vocab_size=32, target_vocab_size=43)
    logits = model(inputs, lengths, decoder_inputs)         # teacher forcing: (N, T, V_t)
    best = model.beam_search(inputs, lengths, beam=5)       # sequences (N, B, T'), scores (N, B), …
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convrnn.functional._checks import check_tensor
from convrnn.layers.attention import Attention, source_mask
from convrnn.layers.recurrent.cells import Cell
from convrnn.layers.recurrent.rnn import RNN

State = Tensor | tuple[Tensor, ...]
DecoderState = tuple[State, Tensor | None]  # the RNN's state and, with input feeding, h̃_{t−1} (N, H_d)


class Decoded(NamedTuple):
    """What :meth:`Seq2Seq.greedy` and :meth:`Seq2Seq.beam_search` return, best beam first.

    sequences: (N, B, T') token ids without ``<bos>`` and ``<eos>``, ``padding_index`` after each
        sequence's end. lengths: (N, B) the number of tokens before ``<eos>``.
    scores: (N, B) Σ_t log p(y_t | y_<t, x) over the tokens and the closing ``<eos>``.
    attention: (N, B, T', S) the attention weights of every emitted token (0 after the end).
    """

    sequences: Tensor
    lengths: Tensor
    scores: Tensor
    attention: Tensor


class Seq2Seq(nn.Module):
    r"""Encoder–decoder with attention over any convrnn recurrent cell, masked by ``lengths``.

    Encoder: x_1 … x_S (source ids) → embeddings → ``RNN(cell, bidirectional)`` over the real
    steps → memory m_1 … m_S, m_j ∈ R^{D·H}.

    Decoder (Luong et al., 2015, "global attention"), target y_0 = ``<bos>``, y_1 … y_T:

        s_t = cell(s_{t−1}, [embed(y_{t−1}); h̃_{t−1}])    decoder state, h_t its output (H_d)
        c_t, α_t = attention(h_t, m_{1…S})                α_t sums to 1 over the real positions
        h̃_t = tanh(W_c [h_t; c_t] + b_c)
        p(y_t | y_<t, x) = softmax(W_o h̃_t + b_o)

    s_0 = tanh(W_k [→h_S; ←h_1] + b_k) for every state component k (for an LSTM, h_0 and c_0) of
    every decoder layer, from the encoder's top-layer final outputs. With ``input_feeding``
    (Luong et al., 2015, §3.3) the decoder also reads its previous attentional state h̃_{t−1}
    (h̃_0 = 0), so it knows where it looked last — which helps monotonic alignments such as
    spelling → sound; without it the term is absent and teacher-forced training runs the decoder
    over all T steps in one call of the recurrent engine. Training feeds the true y_{t−1}
    (teacher forcing); inference feeds back its own choice (:meth:`greedy`, :meth:`beam_search`).

    Args:
        source_vocab_size, target_vocab_size: V_s, V_t (including the special tokens).
        embedding_size: E (source and target).
        hidden_size: H, per encoder direction.
        decoder_size: H_d (default D·H).
        encoder_layers, decoder_layers: stacked layers of each RNN.
        bidirectional: a bidirectional encoder.
        cell: any cell ``RNN`` accepts — "lstm", "gru", "mgu", "elman", "jordan" or a
            :class:`Cell` subclass — for both encoder and decoder.
        attention: "dot" (scaled, with Luong's W_q when H_d ≠ D·H) or "additive" (Bahdanau).
        input_feeding: feed h̃_{t−1} to the decoder (a step-by-step loop in training too).
        dropout: on embeddings, between stacked layers and on h̃_t.
        padding_index, bos_index, eos_index: the special target ids (``Vocabulary``'s 0, 2, 3).
        **cell_options: passed to the cells (``layer_norm``, ``peephole``, ``reset`` …).

    Shapes: inputs (N, S) long, lengths (N,) in [1, S] (None: all S), decoder_inputs (N, T) long
    (``<bos>`` y_1 … y_{T−1}) → logits (N, T, V_t), and with ``return_attention=True`` also the
    weights (N, T, S).
    """

    def __init__(self, source_vocab_size: int, target_vocab_size: int, *, embedding_size: int = 128,
                 hidden_size: int = 256, decoder_size: int | None = None, encoder_layers: int = 2,
                 decoder_layers: int = 1, bidirectional: bool = True, cell: str | type[Cell] = "lstm",
                 attention: str = "dot", input_feeding: bool = True, dropout: float = 0.2, padding_index: int = 0,
                 bos_index: int = 2, eos_index: int = 3, **cell_options: Any) -> None:
        super().__init__()
        for name, value in (("source_vocab_size", source_vocab_size), ("target_vocab_size", target_vocab_size),
                            ("embedding_size", embedding_size), ("hidden_size", hidden_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Seq2Seq: argument '{name}' expected a positive int, got {value!r}")
        for name, value in (("padding_index", padding_index), ("bos_index", bos_index), ("eos_index", eos_index)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < target_vocab_size:
                raise ValueError(f"Seq2Seq: argument '{name}' expected an id in [0, {target_vocab_size - 1}], "
                                 f"got {value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"Seq2Seq: argument 'dropout' expected a probability in [0, 1), got {dropout!r}")
        directions = 2 if bidirectional else 1
        decoder_size = directions * hidden_size if decoder_size is None else decoder_size
        self.padding_index, self.bos_index, self.eos_index = padding_index, bos_index, eos_index
        self.dropout, self.input_feeding = dropout, bool(input_feeding)
        self.source_embedding = nn.Embedding(source_vocab_size, embedding_size, padding_idx=padding_index)
        self.target_embedding = nn.Embedding(target_vocab_size, embedding_size, padding_idx=padding_index)
        self.encoder = RNN(cell, embedding_size, hidden_size, encoder_layers, bidirectional=bidirectional,
                           dropout=dropout, **cell_options)
        self.decoder = RNN(cell, embedding_size + (decoder_size if input_feeding else 0), decoder_size,
                           decoder_layers, dropout=dropout, **cell_options)
        memory_size = self.encoder.output_size
        self.bridges = nn.ModuleList(nn.Linear(memory_size, decoder_layers * size)
                                     for size in self.decoder.state_sizes)
        self.attention = Attention(attention, query_size=self.decoder.output_size, key_size=memory_size)
        self.combine = nn.Linear(self.decoder.output_size + memory_size, decoder_size)
        self.output = nn.Linear(decoder_size, target_vocab_size)

    # -- the two halves ------------------------------------------------------------------------

    def encode(self, inputs: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor, DecoderState]:
        """memory (N, S, D·H), valid (N, S) bool (True at real steps), the decoder's initial state
        (s_0, h̃_0 = 0 or None without input feeding)."""
        where = "Seq2Seq.encode"
        check_tensor("inputs", inputs, dims=2, where=where)
        if inputs.is_floating_point():
            raise TypeError(f"{where}: argument 'inputs' expected integer token ids, got {inputs.dtype}")
        batch, steps = inputs.shape
        valid = source_mask(batch, steps, lengths=lengths, device=inputs.device, where=where)
        if lengths is not None:
            lengths = lengths.to(inputs.device)
        embedded = F.dropout(self.source_embedding(inputs), self.dropout, self.training)
        memory, final = self.encoder(embedded, lengths)
        final = (final,) if isinstance(final, Tensor) else final
        directions, index = self.encoder.directions, self.encoder.cells[0].output_index
        top = final[index][-directions:]                                   # (D, N, O)
        summary = top.transpose(0, 1).reshape(batch, -1)                   # (N, D·O): [→h_S; ←h_1]
        layers = self.decoder.num_layers
        components = tuple(torch.tanh(bridge(summary)).view(batch, layers, -1).transpose(0, 1).contiguous()
                           for bridge in self.bridges)
        feed = memory.new_zeros(batch, self.combine.out_features) if self.input_feeding else None
        return memory, valid, (components[0] if len(components) == 1 else components, feed)

    def decode(self, decoder_inputs: Tensor, memory: Tensor, valid: Tensor,
               state: DecoderState) -> tuple[Tensor, DecoderState, Tensor]:
        """Run the decoder over given inputs (N, T) from ``state``: logits (N, T, V_t), the new
        state, attention weights (N, T, S)."""
        embedded = F.dropout(self.target_embedding(decoder_inputs), self.dropout, self.training)
        recurrent, feed = state
        if feed is None:
            outputs, recurrent = self.decoder(embedded, None, recurrent)
            context, weights = self.attention.attend(outputs, memory, memory, valid)
            attentional = torch.tanh(self.combine(torch.cat([outputs, context], dim=-1)))
            attentional = F.dropout(attentional, self.dropout, self.training)
            return self.output(attentional), (recurrent, None), weights
        every, all_weights = [], []
        for t in range(embedded.shape[1]):
            step = torch.cat([embedded[:, t], feed], dim=-1).unsqueeze(1)
            output, recurrent = self.decoder(step, None, recurrent)
            context, weights = self.attention.attend(output, memory, memory, valid)
            feed = F.dropout(torch.tanh(self.combine(torch.cat([output, context], dim=-1))), self.dropout,
                             self.training)[:, 0]
            every.append(feed)
            all_weights.append(weights)
        return self.output(torch.stack(every, 1)), (recurrent, feed), torch.cat(all_weights, 1)

    def forward(self, inputs: Tensor, lengths: Tensor | None = None, decoder_inputs: Tensor | None = None,
                return_attention: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Teacher forcing: logits (N, T, V_t) of y_1 … y_T given ``decoder_inputs`` = y_0 … y_{T−1}."""
        if decoder_inputs is None:
            raise ValueError("Seq2Seq.forward: argument 'decoder_inputs' expected (N, T) target ids starting "
                             "with <bos> (teacher forcing); use greedy() or beam_search() to generate")
        check_tensor("decoder_inputs", decoder_inputs, dims=2, where="Seq2Seq.forward")
        if decoder_inputs.shape[0] != inputs.shape[0]:
            raise ValueError(f"Seq2Seq.forward: argument 'decoder_inputs' expected N={inputs.shape[0]} rows "
                             f"(those of inputs), got shape {tuple(decoder_inputs.shape)}")
        memory, valid, state = self.encode(inputs, lengths)
        logits, _, weights = self.decode(decoder_inputs, memory, valid, state)
        return (logits, weights) if return_attention else logits

    # -- inference -----------------------------------------------------------------------------

    @torch.no_grad()
    def greedy(self, inputs: Tensor, lengths: Tensor | None = None, *, max_length: int | None = None) -> Decoded:
        """The most probable next token at every step, until ``<eos>`` or ``max_length`` tokens
        (default 2·S + 5). Returns :class:`Decoded` with B = 1."""
        memory, valid, state = self.encode(inputs, lengths)
        batch, steps = valid.shape
        max_length = _max_length(max_length, steps)
        tokens = inputs.new_full((batch,), self.bos_index)
        finished = torch.zeros(batch, dtype=torch.bool, device=inputs.device)
        scores = memory.new_zeros(batch)
        emitted, attention = [], []
        for _ in range(max_length):
            logits, state, weights = self.decode(tokens.unsqueeze(1), memory, valid, state)
            log_probs = torch.log_softmax(logits[:, 0].float(), dim=-1)
            tokens = log_probs.argmax(-1)
            scores = scores + torch.where(finished, 0.0, log_probs.gather(1, tokens.unsqueeze(1)).squeeze(1))
            tokens = tokens.masked_fill(finished, self.padding_index)
            emitted.append(tokens)
            attention.append(weights[:, 0])
            finished = finished | (tokens == self.eos_index)
            if bool(finished.all()):
                break
        return self._finish(torch.stack(emitted, 1).unsqueeze(1), scores.unsqueeze(1),
                            torch.stack(attention, 1).unsqueeze(1))

    @torch.no_grad()
    def beam_search(self, inputs: Tensor, lengths: Tensor | None = None, *, beam: int = 5,
                    max_length: int | None = None) -> Decoded:
        """Beam search over a whole batch at once: each source keeps its ``beam`` most probable
        prefixes (by Σ log p); a prefix that has emitted ``<eos>`` stays, with its score, and
        the search stops when every beam has ended or after ``max_length`` tokens (default
        2·S + 5). Returns :class:`Decoded`, beams sorted best first. ``beam=1`` is greedy."""
        if isinstance(beam, bool) or not isinstance(beam, int) or beam < 1:
            raise ValueError(f"Seq2Seq.beam_search: argument 'beam' expected an int ≥ 1, got {beam!r}")
        memory, valid, state = self.encode(inputs, lengths)
        batch, steps = valid.shape
        max_length = _max_length(max_length, steps)
        device, B = inputs.device, beam
        rows = torch.arange(batch, device=device).repeat_interleave(B)      # beam row → source
        memory, valid, state = memory[rows], valid[rows], _select(state, rows)
        scores = memory.new_full((batch, B), float("-inf"))
        scores[:, 0] = 0.0                                   # one live prefix to start with
        tokens = inputs.new_full((batch * B,), self.bos_index)
        finished = torch.zeros(batch, B, dtype=torch.bool, device=device)
        vocabulary = self.output.out_features
        ended = memory.new_full((vocabulary,), float("-inf"))
        ended[self.padding_index] = 0.0                      # an ended prefix continues with padding, free
        offsets = (torch.arange(batch, device=device) * B).unsqueeze(1)
        chosen, parents, attention = [], [], []
        for _ in range(max_length):
            logits, state, weights = self.decode(tokens.unsqueeze(1), memory, valid, state)
            log_probs = torch.log_softmax(logits[:, 0].float(), dim=-1).view(batch, B, vocabulary)
            log_probs = torch.where(finished.unsqueeze(-1), ended, log_probs)
            scores, best = (scores.unsqueeze(-1) + log_probs).view(batch, B * vocabulary).topk(B, dim=1)
            parent, token = best // vocabulary, best % vocabulary
            state = _select(state, (parent + offsets).view(-1))
            finished = finished.gather(1, parent) | (token == self.eos_index)
            tokens = token.view(-1)
            chosen.append(token)
            parents.append(parent)
            attention.append(weights[:, 0].view(batch, B, -1))
            if bool(finished.all()):
                break
        # follow the back-pointers from the final beams to the first step
        index = torch.arange(B, device=device).expand(batch, B)
        sequence, weights_path = [], []
        for token, parent, weights in zip(reversed(chosen), reversed(parents), reversed(attention), strict=True):
            sequence.append(token.gather(1, index))
            index = parent.gather(1, index)
            weights_path.append(weights.gather(1, index.unsqueeze(-1).expand(-1, -1, steps)))
        return self._finish(torch.stack(sequence[::-1], 2), scores, torch.stack(weights_path[::-1], 2))

    def _finish(self, tokens: Tensor, scores: Tensor, attention: Tensor) -> Decoded:
        """tokens (N, B, T') with ``<eos>`` → Decoded (tokens after the end → padding)."""
        is_end = tokens == self.eos_index
        after = is_end.long().cumsum(-1) > 0                                # at or after <eos>
        lengths = (~after).sum(-1)
        tokens = tokens.masked_fill(after, self.padding_index)
        attention = attention.masked_fill(after.unsqueeze(-1), 0.0)
        return Decoded(tokens, lengths, scores, attention)


def _select(state: DecoderState, index: Tensor) -> DecoderState:
    """Rows ``index`` of a decoder state: of every RNN state component (L, M, S_k) along the
    batch dimension 1, and of h̃ (M, H_d) along dimension 0."""
    recurrent, feed = state
    recurrent = recurrent.index_select(1, index) if isinstance(recurrent, Tensor) else \
        tuple(component.index_select(1, index) for component in recurrent)
    return recurrent, None if feed is None else feed.index_select(0, index)


def _max_length(max_length: int | None, steps: int) -> int:
    if max_length is None:
        return 2 * steps + 5
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        raise ValueError(f"Seq2Seq: argument 'max_length' expected None or an int ≥ 1, got {max_length!r}")
    return max_length


__all__ = ["Decoded", "Seq2Seq"]
